//! A bundle, line by line (`docs/spec/audit-bundle.md` §6): the header and
//! its keys, the checkpoint, each event with its proof and mark, the seal.

use std::collections::BTreeMap;
use std::io::BufRead;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::canonical::canonical;
use crate::chain::{
    CHECKPOINT_DOMAIN, FORMAT, Failure, Hash, SEAL_DOMAIN, blake3_of, check_event, fail, hex32, key_id, number,
    signature, signs, text,
};
use crate::merkle::{Checkpoint, check_inclusion};

// The bundle.

pub(crate) struct Report {
    pub(crate) events: u64,
    pub(crate) selection: String,
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
    pub(crate) signer: String,
    pub(crate) signer_key: VerifyingKey,
}

pub(crate) fn verify(reader: impl BufRead, pinned: &[VerifyingKey]) -> Result<Report, Failure> {
    let mut lines = reader.lines().enumerate();
    let mut read = |what: &str| -> Result<Option<(usize, String)>, Failure> {
        match lines.next() {
            None => Ok(None),
            Some((index, Ok(line))) => Ok(Some((index + 1, line))),
            Some((index, Err(error))) => fail(format!("line {}: {what}: {error}", index + 1)),
        }
    };
    let Some((_, header_line)) = read("header")? else {
        return fail("the bundle is empty");
    };
    let header: Value = serde_json::from_str(&header_line).map_err(|e| Failure(format!("header: {e}")))?;
    if header["format"] != FORMAT {
        return fail(format!("header: format is not {FORMAT}"));
    }
    let point = &header["checkpoint"];
    let checkpoint = Checkpoint {
        tree_size: number(point, "tree_size").map_err(|Failure(m)| Failure(format!("checkpoint: {m}")))?,
        root: hex32(&point["root"], "checkpoint root")?,
        head: hex32(&point["head"], "checkpoint head")?,
    };

    // Keys: each names its public key, and its announcement is in the log.
    let mut keys = BTreeMap::new();
    let Some(listed) = header["keys"].as_array() else {
        return fail("header: no keys");
    };
    for key in listed {
        let id = text(key, "key_id")?;
        let public = hex32(&key["public_key"], "public_key")?;
        let public = VerifyingKey::from_bytes(&public).map_err(|_| Failure(format!("key {id}: not an Ed25519 key")))?;
        if key_id(&public) != id {
            return fail(format!("key {id}: its key_id does not name its public key"));
        }
        keys.insert(id.to_string(), public);
    }
    for key in listed {
        let id = text(key, "key_id")?;
        let announced = &key["announced"]["event"];
        let bad = |Failure(message)| Failure(format!("key {id}: its announcement: {message}"));
        if announced["kind"] != "signing_key.added" || announced["data"]["public_key"] != key["public_key"] {
            return fail(format!(
                "key {id}: its announcement is not the signing_key.added event of this key"
            ));
        }
        let (_, hash) = check_event(announced, &keys).map_err(bad)?;
        check_inclusion(announced, &hash, &key["announced"]["proof"], &checkpoint).map_err(bad)?;
    }
    let signer = text(point, "key_id")?.to_string();
    let Some(signer_key) = keys.get(&signer).copied() else {
        return fail(format!(
            "checkpoint: signed by {signer}, a key the bundle does not carry"
        ));
    };
    if !pinned.is_empty() && !pinned.contains(&signer_key) {
        return fail(format!("checkpoint: signed by {signer}, which is not a key you trust"));
    }
    let statement = format!(
        "{{\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":{}}}",
        hex::encode(checkpoint.head),
        hex::encode(checkpoint.root),
        checkpoint.tree_size
    );
    let digest = blake3_of(&[CHECKPOINT_DOMAIN, statement.as_bytes()]);
    if !signs(&signer_key, &digest, &signature(&point["sig"], "checkpoint sig")?) {
        return fail("checkpoint: its signature does not verify");
    }

    // The running digest ("marks"): the whole header first.
    let mut header_bytes = Vec::new();
    canonical(&header, &mut header_bytes)?;
    let mut mark = blake3_of(&[SEAL_DOMAIN, &(header_bytes.len() as u64).to_be_bytes(), &header_bytes]);
    let selection = &header["selection"];
    let range = match selection["kind"].as_str() {
        Some("range") => Some((number(selection, "from")?, number(selection, "to")?)),
        Some("search") => None,
        _ => return fail("header: the selection is neither a range nor a search"),
    };

    // The events.
    let mut count = 0u64;
    let mut previous: Option<(u64, Hash)> = None;
    let seal_line = loop {
        let Some((line_number, line)) = read("event")? else {
            return fail("seal: missing: the bundle is cut short");
        };
        let entry: Value = serde_json::from_str(&line).map_err(|e| Failure(format!("line {line_number}: {e}")))?;
        if entry.get("seal").is_some() {
            break entry;
        }
        let event = &entry["event"];
        let seq = event["seq"].as_u64().unwrap_or(0);
        let at = |Failure(message)| Failure(format!("seq {seq} (line {line_number}): {message}"));
        let (seq, hash) = check_event(event, &keys).map_err(at)?;
        match (range, previous) {
            (Some((from, _)), None) if seq != from => return Err(at(Failure(format!("the range starts at {from}")))),
            (Some(_), Some((before, before_hash))) => {
                if seq != before + 1 {
                    return Err(at(Failure(format!(
                        "it follows seq {before}: an event is missing or out of order"
                    ))));
                }
                if hex32(&event["prev"], "prev")? != before_hash {
                    return Err(at(Failure(format!("its prev is not the hash of seq {before}"))));
                }
            }
            (None, Some((before, _))) if seq <= before => {
                return Err(at(Failure(format!("it follows seq {before}: out of order"))));
            }
            _ => {}
        }
        let last_of_range = range.is_some_and(|(_, to)| to == seq);
        if range.is_none() || last_of_range || !entry["proof"].is_null() {
            check_inclusion(event, &hash, &entry["proof"], &checkpoint).map_err(at)?;
        }
        mark = blake3_of(&[SEAL_DOMAIN, &mark, &seq.to_be_bytes(), &hash]);
        if hex32(&entry["mark"], "mark").map_err(at)? != mark {
            return Err(at(Failure(
                "the bundle's running digest breaks here: an event before it was removed, added or moved".into(),
            )));
        }
        count += 1;
        previous = Some((seq, hash));
    };
    if let Some((_, to)) = range
        && previous.map(|(seq, _)| seq) != Some(to)
    {
        return fail(format!(
            "seal: the range ends at {to} but the events stop at {}",
            previous.map_or(0, |(seq, _)| seq)
        ));
    }

    // The seal.
    let sealed = &seal_line["seal"];
    if text(sealed, "key_id")? != signer {
        return fail("seal: signed by another key than the checkpoint");
    }
    let digest = hex32(&sealed["digest"], "seal digest")?;
    if !signs(&signer_key, &digest, &signature(&sealed["sig"], "seal sig")?) {
        return fail("seal: its signature does not verify");
    }
    let sealed_count = number(sealed, "events")?;
    if sealed_count != count {
        return fail(format!(
            "seal: {sealed_count} events were sealed, the bundle holds {count}: events were added or removed"
        ));
    }
    if mark != digest {
        return fail("seal: its digest does not match the events: an event was added, removed or moved");
    }
    if let Some((line_number, line)) = read("after the seal")?
        && !line.trim().is_empty()
    {
        return fail(format!("line {line_number}: text after the seal"));
    }
    let selection = match range {
        Some((from, to)) => format!("the range {from}..{to}"),
        None => format!("a search of org {}", selection["org"].as_str().unwrap_or("?")),
    };
    Ok(Report {
        events: count,
        selection,
        tree_size: checkpoint.tree_size,
        root: checkpoint.root,
        signer,
        signer_key,
    })
}
