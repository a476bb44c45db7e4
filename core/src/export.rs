//! The export formats of events: JSON Lines (each event in its wire form,
//! as stored and signed) and CSV (one row per event, a fixed column set
//! for spreadsheets and SIEM imports, ending with the event's readable
//! sentence; `docs/guides/audit.md` documents it).

use crate::chain::canonical;
use crate::commands::app_event::attribution;
use crate::commands::catalogue;
use crate::commands::sentence::Ref;
use crate::event::{Event, timestamp};

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "seq",
    "at",
    "kind",
    "outcome",
    "subject",
    "subject_version",
    "actor_kind",
    "actor_id",
    "actor_org",
    "actor_ip",
    "actor_on_behalf_of",
    "attribution",
    "request_id",
    "data",
    "hash",
    "key_id",
    "summary",
];

/// The names an export writes for the references of an event's sentence
/// (a user's email…); `None` writes the reference's id.
pub type Names<'a> = &'a dyn Fn(&Ref) -> Option<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "jsonl" => Some(Format::JsonLines),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// What comes before the first row.
    pub fn header(self, out: &mut Vec<u8>) {
        if self == Format::Csv {
            let header = CSV_COLUMNS.join(",");
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// One event. An event that does not serialize fails the export
    /// (nothing of it is written) instead of leaving a line out.
    pub fn write(self, event: &Event, names: Names<'_>, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self {
            Format::JsonLines => {
                let line = serde_json::to_vec(event)?;
                out.extend_from_slice(&line);
                out.push(b'\n');
            }
            Format::Csv => write_csv_row(event, names, out),
        }
        Ok(())
    }
}

fn write_csv_row(event: &Event, names: Names<'_>, out: &mut Vec<u8>) {
    let mut data = Vec::new();
    if canonical::write_value(&event.data, &mut data).is_err() {
        // Data the canonical form cannot hold (a number beyond 2^53, which
        // the ledger refuses at the append) is written as JSON.
        data = event.data.to_string().into_bytes();
    }
    let data = String::from_utf8_lossy(&data);
    let fields: [&str; CSV_COLUMNS.len()] = [
        &event.seq.to_string(),
        &timestamp::format(&event.at),
        &event.kind,
        event.outcome.as_str(),
        &event.subject,
        &event.subject_version.to_string(),
        event.actor.kind.as_str(),
        event.actor.id.as_deref().unwrap_or(""),
        event.actor.org.as_deref().unwrap_or(""),
        event.actor.ip.as_deref().unwrap_or(""),
        event.actor.on_behalf_of.as_deref().unwrap_or(""),
        attribution(event).as_str(),
        &event.request_id,
        &data,
        &event.hash.to_hex(),
        &event.key_id,
        &catalogue::sentence(event).plain(names),
    ];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_csv_field(field, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 4180 quoting. A field a spreadsheet would run as a formula gets a
/// leading `'`, the usual defence against CSV injection: one that starts
/// with `=`, `+`, `-` or `@` (or their full-width forms, which some
/// spreadsheets read alike), also after leading spaces, line feeds or
/// other control characters (spreadsheets skip them), or that starts with
/// a tab, carriage return or line feed. JSON Lines keeps every byte.
pub fn write_csv_field(field: &str, out: &mut Vec<u8>) {
    let after_blanks = field.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    let formula =
        after_blanks.starts_with(['=', '+', '-', '@', '＝', '＋', '－', '＠']) || field.starts_with(['\t', '\r', '\n']);
    let quoted = formula || field.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for byte in field.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    if quoted {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        let mut out = Vec::new();
        write_csv_field(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(field("login.failed"), "login.failed");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(""), "");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("-1"), "\"'-1\"");
        // Spreadsheets skip what comes before the sign.
        assert_eq!(field(" =1+1"), "\"' =1+1\"");
        assert_eq!(field("\n=1+1"), "\"'\n=1+1\"");
        assert_eq!(field("\u{a0}\u{3000}@x"), "\"'\u{a0}\u{3000}@x\"");
        assert_eq!(field("＝1+1"), "\"'＝1+1\"");
        assert_eq!(field("\tplain"), "\"'\tplain\"");
        assert_eq!(field("plain = text"), "plain = text");
    }
}
