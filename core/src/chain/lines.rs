//! Reading the JSON Lines files a verifier is given (exports and
//! bundles) with the spec's file rules, so that every verifier reads the
//! same file the same way (audit-chain §9.1):
//!
//! - every line is one JSON value, ended by LF; the last line's LF may be
//!   missing;
//! - no carriage return anywhere (a CRLF file is refused, not repaired),
//!   no byte order mark, no blank line, only UTF-8;
//! - objects name each member once ([`crate::strict_json`]).

use std::io::BufRead;

/// A line that breaks the file rules: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.reason)
    }
}

pub struct Lines<R> {
    input: R,
    number: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(input: R) -> Self {
        Lines {
            input,
            number: 0,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// The number of the line last read (0 before the first).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The next line, without its LF; `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<&str>, LineError> {
        self.buffer.clear();
        let read = self.input.read_until(b'\n', &mut self.buffer);
        self.number += 1;
        let bad = |number: u64, reason: String| LineError { line: number, reason };
        match read {
            Err(error) => return Err(bad(self.number, error.to_string())),
            Ok(0) => return Ok(None),
            Ok(_) => {}
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        }
        if self.buffer.contains(&b'\r') {
            return Err(bad(self.number, "a carriage return (lines end with LF alone)".into()));
        }
        if self.number == 1 && self.buffer.starts_with(b"\xef\xbb\xbf") {
            return Err(bad(
                self.number,
                "a byte order mark (the file must start with its first line)".into(),
            ));
        }
        if self.buffer.iter().all(|byte| matches!(byte, b' ' | b'\t')) {
            return Err(bad(self.number, "a blank line".into()));
        }
        let number = self.number;
        std::str::from_utf8(&self.buffer)
            .map(Some)
            .map_err(|_| bad(number, "not UTF-8".into()))
    }

    /// The next line decoded strictly (duplicate member names refused).
    pub fn next_json<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, LineError> {
        let number = self.number + 1;
        match self.next_line()? {
            None => Ok(None),
            Some(line) => crate::strict_json::from_str(line).map(Some).map_err(|error| LineError {
                line: number,
                reason: error.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Result<Vec<String>, LineError> {
        let mut lines = Lines::new(text);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line()? {
            out.push(line.to_string());
        }
        Ok(out)
    }

    #[test]
    fn the_file_rules_hold_for_every_line() {
        assert_eq!(read_all(b"{}\n[]\n").unwrap(), vec!["{}", "[]"]);
        // The last LF may be missing.
        assert_eq!(read_all(b"{}\n[]").unwrap(), vec!["{}", "[]"]);
        assert_eq!(read_all(b"").unwrap(), Vec::<String>::new());
        for (text, line, reason) in [
            (&b"{}\r\n[]\n"[..], 1, "carriage return"),
            (b"{}\n[]\r", 2, "carriage return"),
            (b"{}\n\n[]\n", 2, "blank line"),
            (b"{}\n \t\n", 2, "blank line"),
            (b"\xef\xbb\xbf{}\n", 1, "byte order mark"),
            (b"{}\n\"\xff\"\n", 2, "not UTF-8"),
            (b"{}\n\n", 2, "blank line"),
        ] {
            let error = read_all(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}");
            assert!(error.reason.contains(reason), "{text:?}: {}", error.reason);
        }
    }

    #[test]
    fn json_lines_are_decoded_strictly() {
        let mut lines = Lines::new(&b"{\"a\":1}\n{\"a\":1,\"a\":2}\n"[..]);
        assert!(lines.next_json::<serde_json::Value>().unwrap().is_some());
        let error = lines.next_json::<serde_json::Value>().unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("duplicate member name"), "{}", error.reason);
    }
}
