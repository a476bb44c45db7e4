//! Backup codes: ten single-use codes a user keeps on paper for when their
//! authenticator is lost.
//!
//! A code is 10 characters of Crockford's base32 (50 random bits), shown as
//! `xxxxx-xxxxx`. Input is forgiving: case, spaces and dashes are ignored
//! and `o`, `i`, `l` read as `0`, `1`, `1`. Only a hash of each code is
//! kept, keyed per user, and that list travels sealed in the event that
//! created it; which codes were used is public (their positions).

use crate::auth::tokens::constant_time_eq_bytes;

/// Codes in a set.
pub const COUNT: usize = 10;
const LENGTH: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A fresh set: the codes to show once, and their hashes to keep.
pub struct Generated {
    pub codes: Vec<zeroize::Zeroizing<String>>,
    pub hashes: Vec<String>,
}

pub fn generate(user: &str) -> Generated {
    let mut codes = Vec::with_capacity(COUNT);
    let mut hashes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let random = crate::keys::random_bytes::<LENGTH>();
        let plain: String = random
            .iter()
            .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
            .collect();
        hashes.push(hash(user, &plain));
        codes.push(zeroize::Zeroizing::new(format!("{}-{}", &plain[..5], &plain[5..])));
    }
    Generated { codes, hashes }
}

/// The position of `input` in `hashes`, if it is one of the set's codes.
/// Every hash is compared (no early exit).
pub fn find(user: &str, input: &str, hashes: &[String]) -> Option<usize> {
    let normalized = normalize(input)?;
    let candidate = hash(user, &normalized);
    let mut found = None;
    for (index, stored) in hashes.iter().enumerate() {
        if constant_time_eq_bytes(candidate.as_bytes(), stored.as_bytes()) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

/// Whether `input` looks like a backup code rather than a TOTP code.
pub fn looks_like_code(input: &str) -> bool {
    normalize(input).is_some()
}

fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(LENGTH);
    for c in input.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' => continue,
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LENGTH).then_some(out)
}

fn hash(user: &str, normalized: &str) -> String {
    let key = blake3::derive_key("warden 2026-11 backup code v1", user.as_bytes());
    blake3::keyed_hash(&key, normalized.as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_generated_code_is_found_at_its_position() {
        let set = generate("user-1");
        assert_eq!(set.codes.len(), COUNT);
        for (index, code) in set.codes.iter().enumerate() {
            assert_eq!(code.len(), 11);
            assert_eq!(find("user-1", code, &set.hashes), Some(index));
        }
    }

    #[test]
    fn input_is_forgiving_about_case_spaces_dashes_and_lookalikes() {
        let set = generate("user-1");
        let code = set.codes[3].as_str();
        let shouted = code.to_uppercase().replace('-', " ");
        assert_eq!(find("user-1", &shouted, &set.hashes), Some(3));
        let lookalike = code.replace('0', "o").replace('1', "l");
        assert_eq!(find("user-1", &lookalike, &set.hashes), Some(3));
    }

    #[test]
    fn other_users_codes_and_junk_are_not_found() {
        let set = generate("user-1");
        assert_eq!(find("user-2", &set.codes[0], &set.hashes), None);
        for junk in ["", "123456", "aaaaa-aaaa", "aaaaa-aaaaaa", "aaaaa-aaaau", "ééééé-ééééé"] {
            assert_eq!(find("user-1", junk, &set.hashes), None, "{junk:?}");
        }
    }

    #[test]
    fn a_totp_code_does_not_look_like_a_backup_code() {
        assert!(!looks_like_code("123456"));
        assert!(!looks_like_code("12345678"));
        assert!(looks_like_code("abcde-12345"));
    }
}
