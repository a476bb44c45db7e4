//! The catalogue of event kinds (`docs/events.md`) cannot drift from the
//! code: every kind a command can append has its row there, and every row
//! names a kind the code appends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

fn is_kind(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// `pub const NAME: &str = "a.b";` in every source file under `dir`.
fn kinds_in_code(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            kinds_in_code(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("pub const ")
                    && let Some((_, value)) = rest.split_once(": &str = \"")
                    && let Some(value) = value.strip_suffix("\";")
                    && is_kind(value)
                {
                    found.insert(value.to_string());
                }
            }
        }
    }
}

/// The kinds the catalogue documents: the first cell of its table rows
/// and its `###` headings.
fn kinds_in_docs(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let cell = if let Some(row) = line.strip_prefix("| ") {
            row.split(" | ").next().unwrap_or_default()
        } else if let Some(heading) = line.strip_prefix("### ") {
            heading
        } else {
            continue;
        };
        for (index, part) in cell.split('`').enumerate() {
            if index % 2 == 1 && is_kind(part) {
                found.insert(part.to_string());
            }
        }
    }
    found
}

#[test]
fn every_event_kind_is_documented_and_every_documented_kind_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut code = BTreeSet::new();
    for crate_dir in ["core/src", "api/src", "projections/src"] {
        kinds_in_code(&root.join(crate_dir), &mut code);
    }
    assert!(code.len() > 40, "{code:?}");
    let docs = kinds_in_docs(&std::fs::read_to_string(root.join("docs/events.md")).unwrap());
    let undocumented: Vec<_> = code.difference(&docs).collect();
    assert!(
        undocumented.is_empty(),
        "kinds missing from docs/events.md: {undocumented:?}"
    );
    // Application events (`app.*`) are the caller's; examples of them are
    // not Warden's kinds.
    let unknown: Vec<_> = docs
        .difference(&code)
        .filter(|kind| !kind.starts_with("app."))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/events.md documents kinds no code appends: {unknown:?}"
    );
}
