//! The rules a new password must meet: length, not breached (the built-in
//! lists or the operator's), not the account's own email or name, not a
//! repetition or a run.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use thiserror::Error;

use super::Password;

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyViolation {
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    #[error("the password must have at most {0} characters")]
    TooLong(usize),
    #[error("this password appears in lists of breached passwords")]
    Breached,
    #[error("the password must not contain the account's email or name")]
    ContainsIdentity,
    #[error(
        "the password must not be only spaces, one character repeated, a short pattern repeated or a run such as 1234…"
    )]
    Repetitive,
}

/// The rules a new password must meet (NIST SP 800-63B: length, no
/// composition rules, a check against known-breached passwords).
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    breached: Arc<HashSet<String>>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 256,
            breached: Arc::clone(&BUILT_IN.passwords),
        }
    }
}

/// The built-in lists (see `tools/breached-list/README.md`): the 100,000
/// most frequent RockYou passwords the length rule would let through, a
/// few more picked by hand, and the 20,000 most frequent words people
/// dress up with digits and symbols (`Password123!`).
struct BuiltIn {
    passwords: Arc<HashSet<String>>,
    words: HashSet<String>,
}

static BUILT_IN: LazyLock<BuiltIn> = LazyLock::new(|| BuiltIn {
    passwords: Arc::new(
        lines(&unpack(BREACHED_PASSWORDS))
            .chain(lines(BREACHED_BY_HAND))
            .collect(),
    ),
    words: lines(&unpack(BREACHED_WORDS)).collect(),
});

const BREACHED_PASSWORDS: &[u8] = include_bytes!("../breached-passwords.txt.lz4");
const BREACHED_WORDS: &[u8] = include_bytes!("../breached-words.txt.lz4");
const BREACHED_BY_HAND: &str = include_str!("../breached-passwords.txt");

/// A packed built-in list (empty if it were damaged: a unit test makes sure
/// it is not).
fn unpack(packed: &[u8]) -> String {
    lz4_flex::block::decompress_size_prepended(packed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

/// One entry a line, compared lower-cased.
fn lines(list: &str) -> impl Iterator<Item = String> + '_ {
    list.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_lowercase)
}

impl PasswordPolicy {
    /// Replaces the breached-password list (one password per line,
    /// compared case-insensitively). The built-in words stay.
    pub fn with_breached_list(mut self, list: &str) -> Self {
        self.breached = Arc::new(lines(list).collect());
        self
    }

    /// Checks a new password for an account known by `identity` (its email
    /// and display name, which the password must not contain).
    pub fn check(&self, password: &Password, identity: &[&str]) -> Result<(), PolicyViolation> {
        let clear = password.expose();
        let length = clear.chars().count();
        if length < self.min_length {
            return Err(PolicyViolation::TooShort(self.min_length));
        }
        if length > self.max_length {
            return Err(PolicyViolation::TooLong(self.max_length));
        }
        if repetitive(clear) {
            return Err(PolicyViolation::Repetitive);
        }
        let lowered = clear.to_lowercase();
        if self.breached.contains(&lowered) || self.dressed_up_word(&lowered) {
            return Err(PolicyViolation::Breached);
        }
        let contains_identity = identity
            .iter()
            .flat_map(|part| part.split(['@', ' ', '.']))
            .filter(|part| part.chars().count() >= 4)
            .any(|part| lowered.contains(&part.to_lowercase()));
        if contains_identity {
            return Err(PolicyViolation::ContainsIdentity);
        }
        Ok(())
    }
}

impl PasswordPolicy {
    /// Whether a (lower-cased) password is a common word, shorter than the
    /// policy allows, with digits, symbols or spaces around it or common
    /// letter swaps in it: `password123!`, `welcome2024!`, `p@ssw0rd2024`.
    fn dressed_up_word(&self, lowered: &str) -> bool {
        let decoration = |c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace();
        let core = lowered.trim_matches(decoration);
        let undone: String = core.chars().map(unleet).collect();
        [core, undone.as_str()]
            .iter()
            .any(|word| word.chars().count() < self.min_length && BUILT_IN.words.contains(*word))
    }
}

/// The usual letter swaps: `@`→a, `0`→o, `$`→s …
fn unleet(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '$' | '5' => 's',
        '7' => 't',
        other => other,
    }
}

/// Whether a password is only whitespace, a unit of at most four
/// characters repeated (`aaaaaaaaaaaa`, `abcabcabcabc`), or a run of
/// consecutive characters (`123456789012`, `lkjihgfedcba`): guessed first
/// whatever its length.
fn repetitive(password: &str) -> bool {
    let chars: Vec<char> = password.to_lowercase().chars().collect();
    if chars.iter().all(|c| c.is_whitespace()) {
        return true;
    }
    let repeated = (1..=4.min(chars.len() / 2))
        .any(|unit| chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|chunk| chunk == &chars[..unit]));
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|pair| i64::from(u32::from(pair[1])) - i64::from(u32::from(pair[0])))
        .collect();
    let run = !steps.is_empty()
        && (steps.iter().all(|step| *step == 1) || steps.iter().all(|step| *step == -1))
        // digits wrap: 7890123456…
        || steps.iter().all(|step| *step == 1 || *step == -9) && chars.iter().all(char::is_ascii_digit);
    repeated || run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_are_whole() {
        assert!(BUILT_IN.passwords.len() >= 100_000, "{}", BUILT_IN.passwords.len());
        assert_eq!(BUILT_IN.words.len(), 20_000);
        assert!(BUILT_IN.passwords.contains("iloveyou1234"));
        assert!(BUILT_IN.words.contains("welcome"));
    }

    #[test]
    fn common_words_dressed_up_are_breached() {
        let policy = PasswordPolicy::default();
        for weak in [
            "Password123!",
            "Welcome2024!",
            "P@ssw0rd2024!",
            "password1234",
            "!!Sunshine2025",
            "  monkey 1234567  ",
            "iloveyou1234",
            "qwertyuiop123",
            "Dr4g0n!!2024",
        ] {
            assert_eq!(
                policy.check(&Password::new(weak), &[]),
                Err(PolicyViolation::Breached),
                "{weak:?}"
            );
        }
        for fine in [
            "correct horse battery",
            "Password and more words!",
            "welcome to the jungle 7",
            "zqxv-plumbing-87",
        ] {
            assert_eq!(policy.check(&Password::new(fine), &[]), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn the_policy_refuses_repetitive_passwords() {
        let policy = PasswordPolicy::default();
        for weak in [
            "aaaaaaaaaaaa",
            "            ",
            "\t\t\t\t\t\t\t\t\t\t\t\t",
            "AaAaAaAaAaAa",
            "abababababab",
            "abcabcabcabc",
            "abcdabcdabcd",
            "123456789012",
            "012345678901234",
            "abcdefghijklm",
            "zyxwvutsrqpo",
            "éééééééééééé",
        ] {
            assert_eq!(
                policy.check(&Password::new(weak), &[]),
                Err(PolicyViolation::Repetitive),
                "{weak:?}"
            );
        }
        for fine in [
            "abcdeabcdeab",
            "correct horse battery",
            "aaaaaaaaaaab",
            "  spaced out words  ",
        ] {
            assert_eq!(policy.check(&Password::new(fine), &[]), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn the_policy_refuses_short_long_breached_and_personal_passwords() {
        let policy = PasswordPolicy::default();
        let check = |text: &str| policy.check(&Password::new(text), &["alice.liddell@example.org", "Alice Liddell"]);
        assert_eq!(check("short"), Err(PolicyViolation::TooShort(12)));
        assert_eq!(check(&"x".repeat(257)), Err(PolicyViolation::TooLong(256)));
        assert_eq!(check("Password1234"), Err(PolicyViolation::Breached));
        assert_eq!(check("liddell-rabbit-hole"), Err(PolicyViolation::ContainsIdentity));
        assert_eq!(check("vorpal sword galumphing"), Ok(()));
        assert_eq!(check("ünïcødé-pässwörd"), Ok(()), "length counts characters");
        let custom = PasswordPolicy::default().with_breached_list("vorpal sword galumphing\n");
        assert_eq!(
            custom.check(&Password::new("Vorpal Sword Galumphing"), &[]),
            Err(PolicyViolation::Breached)
        );
    }
}
