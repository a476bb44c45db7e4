//! The text of an API key, and what Warden keeps of it.
//!
//! `wk_live_` + 16 characters of key id + 43 characters of secret + 6
//! characters of checksum, all base62 (`0-9A-Za-z`): 73 characters that a
//! secret scanner finds with `\bwk_live_[0-9A-Za-z]{65}\b` and validates
//! without calling Warden (the checksum is CRC-32/ISO-HDLC of the first 67
//! characters, written as 6 base62 digits, most significant first). The
//! secret is 43 base62 characters drawn uniformly from the CSPRNG: 256
//! bits. The id names the key in the console, the API and the log; it is
//! not secret.
//!
//! Warden keeps only a keyed BLAKE3 digest of the whole text. Its key is a
//! data key kept in the KMS envelope (`api_key_hash`), so the log, the
//! snapshots and a database dump hold nothing that checks a guessed key
//! offline.

use zeroize::Zeroizing;

use crate::keys::random_bytes;

/// The scanning prefix.
pub const PREFIX: &str = "wk_live_";
pub const ID_LEN: usize = 16;
pub const SECRET_LEN: usize = 43;
pub const CHECKSUM_LEN: usize = 6;
/// Length of the whole text.
pub const LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A key as presented: parsed, its checksum right. Its `Debug` shows only
/// the id.
pub struct KeyText {
    text: Zeroizing<String>,
}

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyText({PREFIX}{}…)", self.id())
    }
}

impl KeyText {
    /// A new key with a fresh id.
    pub fn generate() -> KeyText {
        Self::generate_for(&random_base62(ID_LEN))
    }

    /// A new secret for the key `id` (a rotation).
    pub fn generate_for(id: &str) -> KeyText {
        let mut text = Zeroizing::new(String::with_capacity(LEN));
        text.push_str(PREFIX);
        text.push_str(id);
        text.push_str(&random_base62(SECRET_LEN));
        let checksum = checksum(text.as_bytes());
        text.push_str(&checksum);
        KeyText { text }
    }

    /// The key in `text`, if it has the format and its checksum is right.
    pub fn parse(text: &str) -> Option<KeyText> {
        Self::id_of(text).map(|_| KeyText {
            text: Zeroizing::new(text.to_string()),
        })
    }

    /// The id of the key in `text`, if it has the format and its checksum
    /// is right (what a verification needs, without a copy of the secret).
    pub fn id_of(text: &str) -> Option<&str> {
        if text.len() != LEN || !text.starts_with(PREFIX) {
            return None;
        }
        let body = &text.as_bytes()[PREFIX.len()..];
        if !body.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let (signed, written) = text.split_at(LEN - CHECKSUM_LEN);
        (checksum_digits(signed.as_bytes()) == written.as_bytes()).then(|| &text[PREFIX.len()..PREFIX.len() + ID_LEN])
    }

    /// The key id: not secret.
    pub fn id(&self) -> &str {
        &self.text[PREFIX.len()..PREFIX.len() + ID_LEN]
    }

    /// The whole text, to show once to whoever created or rotated the key.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The last four characters (of the checksum): enough to tell two
    /// secrets of one key apart in a list, nothing of the secret.
    pub fn hint(&self) -> String {
        self.text[LEN - 4..].to_string()
    }

    /// What Warden keeps: the keyed digest of the whole text.
    pub fn digest(&self, hash_key: &HashKey) -> String {
        digest_of(hash_key, self.text.as_bytes())
    }
}

/// The key of the digests: derived from the `api_key_hash` data key.
#[derive(Clone)]
pub struct HashKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(…)")
    }
}

impl HashKey {
    pub fn from_data_key(data_key: &[u8; 32]) -> HashKey {
        HashKey(Zeroizing::new(blake3::derive_key("warden/api-key-digest/v1", data_key)))
    }
}

/// The digest of any presented text, well-formed or not: a malformed key
/// costs the same hashing as an unknown one.
pub fn digest_of(hash_key: &HashKey, text: &[u8]) -> String {
    Digest::of(hash_key, text).as_str().to_string()
}

/// A digest in hex, on the stack (a verification computes one per
/// request).
pub struct Digest([u8; 64]);

impl Digest {
    pub fn of(hash_key: &HashKey, text: &[u8]) -> Digest {
        let mut hex = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(blake3::keyed_hash(&hash_key.0, text).as_bytes(), &mut hex);
        Digest(hex)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The id a malformed presentation is looked up under, so that it costs
/// the same lookup as an unknown key: no key has it (ids are base62).
pub const NO_SUCH_ID: &str = "~malformed~";

/// Whether `id` has the form of a key id.
pub fn is_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// CRC-32/ISO-HDLC of `bytes` as 6 base62 digits.
pub fn checksum(bytes: &[u8]) -> String {
    checksum_digits(bytes).iter().map(|&b| char::from(b)).collect()
}

fn checksum_digits(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut crc = u64::from(crc32(bytes));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    digits
}

/// CRC-32/ISO-HDLC (the zlib, PNG and GitHub-token CRC): reflected,
/// polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF; a byte at a
/// time from a table (eight times fewer steps than bit by bit: every
/// verification computes it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc = (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ byte)];
    }
    !crc
}

/// The CRC of each byte value, bit by bit.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut value = 0;
    while value < 256 {
        let mut crc = value as u32;
        let mut bit = 0;
        while bit < 8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            bit += 1;
        }
        table[value] = crc;
        value += 1;
    }
    table
};

/// `len` base62 characters, each uniform (rejection sampling of bytes).
fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for &byte in random_bytes::<64>().iter() {
            // 248 = 4 × 62: bytes at or above it would favour the first
            // eight characters.
            if byte < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_parse() {
        let key = KeyText::generate();
        let text = key.expose().to_string();
        assert_eq!(text.len(), 73);
        assert!(text.starts_with("wk_live_"));
        assert!(text[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(is_id(key.id()));
        let parsed = KeyText::parse(&text).unwrap();
        assert_eq!(parsed.id(), key.id());
        assert_eq!(parsed.hint(), &text[69..]);
        assert!(!format!("{key:?}").contains(&text[24..67]), "Debug shows no secret");
        let rotated = KeyText::generate_for(key.id());
        assert_eq!(rotated.id(), key.id());
        assert_ne!(rotated.expose(), key.expose());
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let text = KeyText::generate().expose().to_string();
        for at in 8..73 {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(KeyText::parse(&changed).is_none(), "position {at}");
        }
        for bad in [
            "",
            "wk_live_",
            &text[..72],
            &format!("{text}0"),
            &text.replace("wk_live_", "wk_test_"),
            &format!("{}-{}", &text[..40], &text[41..]),
        ] {
            assert!(KeyText::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn digests_depend_on_the_hash_key_and_the_whole_text() {
        let key = KeyText::generate();
        let one = HashKey::from_data_key(&[1; 32]);
        let two = HashKey::from_data_key(&[2; 32]);
        assert_eq!(key.digest(&one), digest_of(&one, key.expose().as_bytes()));
        assert_ne!(key.digest(&one), key.digest(&two));
        assert_ne!(key.digest(&one), KeyText::generate_for(key.id()).digest(&one));
        assert_eq!(key.digest(&one).len(), 64);
    }

    #[test]
    fn secrets_use_the_whole_alphabet_evenly() {
        let mut seen = [0u32; 62];
        for _ in 0..200 {
            for b in random_base62(43).bytes() {
                seen[BASE62.iter().position(|&c| c == b).unwrap()] += 1;
            }
        }
        // 8,600 draws, 138.7 expected per character.
        assert!(seen.iter().all(|&n| (70..=220).contains(&n)), "{seen:?}");
    }
}
