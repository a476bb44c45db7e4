//! Every event kind reads as a sentence of its own
//! (`commands::sentence`), and this is what they read: one block per kind
//! in `fixtures/sentences.md` names the subject and actor of a realistic
//! event (its `data` is the kind's golden payload, `fixtures/events/`)
//! and the sentence it reads as, so a reviewer reads every sentence in one
//! file and a change to one shows in the diff.
//!
//! `WARDEN_BLESS=1 cargo test -p warden-core --test event_sentences`
//! rewrites the sentences after a deliberate change; a kind without a
//! block gets one to fill in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_core::commands::catalogue::{self, KINDS};
use warden_core::commands::sentence::{Ref, has_long_hex};
use warden_core::event::{Actor, ActorKind, Event, NewEvent};

const FIREFOX_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn sentences_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentences.md")
}

fn fixture(kind: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/events/{kind}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))).unwrap()
}

/// One kind's block: `## kind`, `subject: …`, `actor: …` (optional, a
/// user of the org by default), and the sentence.
#[derive(Debug, Clone)]
struct Block {
    subject: String,
    actor: String,
    sentence: String,
}

/// olive@example.org, the owner.
const DEFAULT_ACTOR: &str = "user 0193f1a2-7c4f-7a10-8c2d-1b3e5f7a9c04";

fn parse(text: &str) -> BTreeMap<String, Block> {
    let mut blocks = BTreeMap::new();
    for chunk in text.split("\n## ").skip(1) {
        let mut lines = chunk.lines().filter(|line| !line.trim().is_empty());
        let kind = lines.next().unwrap().trim().to_string();
        let mut block = Block {
            subject: String::new(),
            actor: DEFAULT_ACTOR.into(),
            sentence: String::new(),
        };
        for line in lines {
            if let Some(subject) = line.strip_prefix("subject: ") {
                block.subject = subject.trim().into();
            } else if let Some(actor) = line.strip_prefix("actor: ") {
                block.actor = actor.trim().into();
            } else {
                block.sentence = line.trim().into();
            }
        }
        assert!(!block.subject.is_empty(), "{kind}: no `subject:` line");
        assert!(blocks.insert(kind.clone(), block).is_none(), "{kind}: two blocks");
    }
    blocks
}

/// The file again: its introduction as it was, and the blocks.
fn write(introduction: &str, blocks: &BTreeMap<String, Block>) -> String {
    let mut out = introduction.trim_end().to_string();
    out.push('\n');
    for (kind, block) in blocks {
        write!(out, "\n## {kind}\nsubject: {}\n", block.subject).unwrap();
        if block.actor != DEFAULT_ACTOR {
            writeln!(out, "actor: {}", block.actor).unwrap();
        }
        writeln!(out, "{}", block.sentence).unwrap();
    }
    out
}

/// `user <id>`, `api_key <id>`, `vendor <key> for <user>`, `system`,
/// `anonymous`.
fn actor(text: &str) -> Actor {
    let words: Vec<&str> = text.split(' ').collect();
    let kind = ActorKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == words[0])
        .unwrap_or_else(|| panic!("unknown actor kind in `{text}`"));
    let mut actor = Actor::of_kind(kind);
    actor.id = words.get(1).map(|id| id.to_string());
    if let ["vendor", _, "for", user] = words.as_slice() {
        actor.on_behalf_of = Some(user.to_string());
        actor.ticket = Some("SUP-1234".into());
    }
    if matches!(
        kind,
        ActorKind::User | ActorKind::Anonymous | ActorKind::ApiKey | ActorKind::Vendor
    ) {
        actor.org = Some("o-acme".into());
        actor.ip = Some("203.0.113.7".into());
        actor.user_agent = Some(FIREFOX_ON_LINUX.into());
    }
    actor
}

fn name(reference: &Ref) -> Option<String> {
    match reference {
        Ref::User(id) => match id.as_str() {
            "0193f1a2-7c4f-7a10-8c2d-1b3e5f7a9c04" => Some("olive@example.org".into()),
            "0193f1a2-8d10-7e42-b6c1-2f9a4d7e3c02" => Some("mia@example.org".into()),
            "0193f1a3-1d2e-7f40-8a9b-0c1d2e3f4a05" => Some("sam@example.org".into()),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn every_kind_reads_as_a_sentence_of_its_own() {
    let text = std::fs::read_to_string(sentences_file()).unwrap_or_default();
    let mut blocks = parse(&text);
    let bless = std::env::var_os("WARDEN_BLESS").is_some();
    let mut failures = Vec::new();
    for kind in KINDS {
        let Some(block) = blocks.get_mut(*kind) else {
            failures.push(format!("{kind}: no block in fixtures/sentences.md"));
            if bless {
                blocks.insert(
                    kind.to_string(),
                    Block {
                        subject: "FILL IN".into(),
                        actor: DEFAULT_ACTOR.into(),
                        sentence: String::new(),
                    },
                );
            }
            continue;
        };
        let event = Event::unsealed(
            42,
            warden_core::event::now_micros(),
            NewEvent::new(*kind, block.subject.as_str(), actor(&block.actor)).data(fixture(kind)),
        );
        let sentence = match catalogue::own_sentence(&event) {
            Some(Ok(Some(sentence))) => sentence.plain(&name),
            Some(Ok(None)) => {
                failures.push(format!("{kind}: its payload type has no sentence for it"));
                continue;
            }
            Some(Err(error)) => {
                failures.push(format!("{kind}: the fixture does not decode: {error}"));
                continue;
            }
            None => {
                failures.push(format!("{kind}: not in the catalogue"));
                continue;
            }
        };
        if sentence.contains(*kind) || sentence.contains('{') || has_long_hex(&sentence) {
            failures.push(format!(
                "{kind}: reads as data, not a sentence (the kind, JSON or a hash): {sentence}"
            ));
        }
        if sentence.ends_with('.') || sentence.trim() != sentence {
            failures.push(format!(
                "{kind}: a sentence has no final period or outer spaces: {sentence:?}"
            ));
        }
        if sentence != block.sentence {
            failures.push(format!(
                "{kind}: reads\n    {sentence}\n  not, as fixtures/sentences.md says,\n    {}",
                block.sentence
            ));
            block.sentence = sentence;
        }
    }
    let stray: Vec<&String> = blocks.keys().filter(|kind| !KINDS.contains(&kind.as_str())).collect();
    if !stray.is_empty() {
        failures.push(format!("blocks of no catalogued kind: {stray:?}"));
    }
    if bless {
        let introduction = text.split("\n## ").next().unwrap_or_default();
        std::fs::write(sentences_file(), write(introduction, &blocks)).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{}\n(WARDEN_BLESS=1 rewrites the file after a deliberate change)",
        failures.join("\n")
    );
}

/// The sentence of a kind outside the catalogue says whose word it is.
#[test]
fn an_application_event_reads_as_who_recorded_what() {
    let mut service = Actor::of_kind(ActorKind::Service);
    service.id = Some("app:billing".into());
    let event = Event::unsealed(
        1,
        warden_core::event::now_micros(),
        NewEvent::new("app.invoice.paid", "invoice:42", service),
    );
    assert!(catalogue::own_sentence(&event).is_none());
    assert_eq!(
        catalogue::sentence(&event).plain(&name),
        "The application (token billing) recorded app.invoice.paid about invoice:42"
    );
}
