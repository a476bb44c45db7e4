//! Golden payloads: one fixture per event kind
//! (`fixtures/events/<kind>.json`, the canonical JSON of a realistic
//! `data`), held to the payload catalogue (`commands::catalogue`).
//!
//! Stored events never change, so neither may what their `data` decodes
//! as: a renamed, retyped or newly required member of a payload type makes
//! its fixture fail to decode or come back different, here, instead of
//! stopping the read models of a running instance on replay.
//!
//! A fixture changes only with a new, compatible shape (an optional member
//! added): then add the member to the fixture, never edit what was there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_core::chain::canonical;
use warden_core::commands::catalogue::{self, KINDS};
use warden_core::event::{Actor, Event, NewEvent};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events")
}

/// Every fixture: its kind (the file name) and its bytes.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            let kind = name
                .strip_suffix(".json")
                .unwrap_or_else(|| panic!("{name}: not a .json fixture"));
            (kind.to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    found.sort();
    found
}

fn canonical(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    canonical::write_value(value, &mut bytes).unwrap();
    bytes
}

fn parse(kind: &str, bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|error| panic!("{kind}.json: {error}"))
}

/// `pub const NAME: &str = "a.b";` in every source file under `dir`, as
/// `event_catalogue.rs` finds them.
fn kinds_in_code(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            kinds_in_code(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some(rest) = line.trim().strip_prefix("pub const ")
                    && let Some((_, value)) = rest.split_once(": &str = \"")
                    && let Some(value) = value.strip_suffix("\";")
                    && value.contains('.')
                    && warden_core::event::valid_kind(value)
                {
                    found.insert(value.to_string());
                }
            }
        }
    }
}

#[test]
fn the_catalogue_lists_every_kind_the_code_appends() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut code = BTreeSet::new();
    for crate_dir in ["core/src", "api/src", "projections/src", "alerting/src"] {
        kinds_in_code(&root.join(crate_dir), &mut code);
    }
    let listed: BTreeSet<String> = KINDS.iter().map(|kind| kind.to_string()).collect();
    assert_eq!(listed.len(), KINDS.len(), "a kind is listed twice");
    let missing: Vec<_> = code.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "kinds without a payload type in commands::catalogue: {missing:?}"
    );
    let unknown: Vec<_> = listed.difference(&code).collect();
    assert!(unknown.is_empty(), "catalogued kinds no code defines: {unknown:?}");
}

#[test]
fn every_kind_has_a_fixture_and_every_fixture_names_a_kind() {
    let fixtures: BTreeSet<String> = fixtures().into_iter().map(|(kind, _)| kind).collect();
    let listed: BTreeSet<String> = KINDS.iter().map(|kind| kind.to_string()).collect();
    let without_fixture: Vec<_> = listed.difference(&fixtures).collect();
    assert!(
        without_fixture.is_empty(),
        "kinds without fixtures/events/<kind>.json: {without_fixture:?}"
    );
    let stray: Vec<_> = fixtures.difference(&listed).collect();
    assert!(stray.is_empty(), "fixtures of no catalogued kind: {stray:?}");
}

/// The heart of it: each fixture decodes as its kind's payload type and
/// encodes back to exactly its bytes.
#[test]
fn every_fixture_decodes_and_encodes_back_to_the_same_canonical_json() {
    let mut failures = Vec::new();
    for (kind, bytes) in fixtures() {
        let data = parse(&kind, &bytes);
        let expected = canonical(&data);
        if [expected.as_slice(), b"\n"].concat() != bytes {
            failures.push(format!("{kind}.json is not canonical JSON and a line feed"));
            continue;
        }
        match catalogue::round_trip(&kind, &data) {
            None => failures.push(format!("{kind}: not in the catalogue")),
            Some(Err(error)) => failures.push(format!("{kind}: does not decode: {error}")),
            Some(Ok(again)) if canonical(&again) != expected => failures.push(format!(
                "{kind}: comes back different:\n  fixture {}\n  now     {}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&canonical(&again)),
            )),
            Some(Ok(_)) => {}
        }
        let event = Event::unsealed(
            1,
            warden_core::event::now_micros(),
            NewEvent::new(kind.as_str(), "fixture", Actor::system()).data(data),
        );
        if let Err(error) = catalogue::check(&event) {
            failures.push(format!("{kind}: check refuses it: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a rename of a payload member looks like from a stored event: every
/// member of every fixture, renamed, is noticed (the payload no longer
/// decodes, or comes back without it).
#[test]
fn a_renamed_member_of_any_payload_is_noticed() {
    for (kind, bytes) in fixtures() {
        let data = parse(&kind, &bytes);
        for member in data.as_object().unwrap().keys() {
            let mut renamed = data.clone();
            let object = renamed.as_object_mut().unwrap();
            let value = object.remove(member).unwrap();
            object.insert(format!("{member}_renamed"), value);
            let noticed = match catalogue::round_trip(&kind, &renamed).unwrap() {
                Err(_) => true,
                Ok(again) => canonical(&again) != canonical(&renamed),
            };
            assert!(noticed, "{kind}: renaming `{member}` goes unnoticed");
        }
    }
}
