//! A bundle, line by line (`docs/spec/audit-bundle.md` §6), in the spec's
//! order, refusing anything the format does not define: the header and
//! its keys, the checkpoint, each event with its proof and mark, the seal,
//! and nothing after it.

use std::collections::BTreeMap;
use std::io::BufRead;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::canonical::canonical;
use crate::chain::{
    CHECKPOINT_DOMAIN, Carried, FORMAT, Failure, Hash, SEAL_DOMAIN, blake3_of, check_event, fail, hex32, key_id,
    number, signature, signs, text,
};
use crate::json::{Lines, members};
use crate::merkle::{Checkpoint, check_inclusion};

pub(crate) struct Report {
    pub(crate) events: u64,
    pub(crate) selection: String,
    /// The first and last event: (seq, hash).
    pub(crate) first: Option<(u64, Hash)>,
    pub(crate) last: Option<(u64, Hash)>,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) signer: String,
    pub(crate) signer_key: VerifyingKey,
    /// Every key the bundle carries, each proven announced in its log.
    pub(crate) keys: Vec<VerifyingKey>,
}

/// `line N: what`, for a failure on the header's line.
fn on_header(Failure(message): Failure) -> Failure {
    Failure(format!("line 1: header: {message}"))
}

fn check_header(header: &Value, pinned: &[VerifyingKey]) -> Result<(Checkpoint, BTreeMap<String, Carried>), Failure> {
    members(
        header,
        "the header",
        &["format", "created_at", "selection", "checkpoint", "keys"],
        &[],
    )?;
    if header["format"] != FORMAT {
        return fail(format!("format is not {FORMAT}"));
    }
    text(header, "created_at")?;
    let point = &header["checkpoint"];
    members(
        point,
        "the checkpoint",
        &["tree_size", "root", "head", "key_id", "sig"],
        &[],
    )?;
    let checkpoint = Checkpoint {
        tree_size: number(point, "tree_size")?,
        root: hex32(&point["root"], "the checkpoint's root")?,
        head: hex32(&point["head"], "the checkpoint's head")?,
    };
    if checkpoint.tree_size == 0 {
        return fail("the checkpoint's log is empty");
    }
    let selection = &header["selection"];
    match selection["kind"].as_str() {
        Some("range") => {
            members(selection, "the selection", &["kind", "from", "to"], &[])?;
            let (from, to) = (number(selection, "from")?, number(selection, "to")?);
            if !(1 <= from && from <= to && to <= checkpoint.tree_size) {
                return fail(format!(
                    "the range {from}..{to} is not a range of the checkpoint's log of {} events",
                    checkpoint.tree_size
                ));
            }
        }
        Some("search") => {
            members(selection, "the selection", &["kind", "org", "filters"], &[])?;
            text(selection, "org")?;
            let filters = selection["filters"].as_object();
            if !filters.is_some_and(|filters| filters.values().all(Value::is_string)) {
                return fail("the search's filters are not an object of strings");
            }
        }
        _ => return fail("the selection is neither a range nor a search"),
    }

    // Keys: each names its public key, and its announcement is in the log.
    let Some(listed) = header["keys"].as_array() else {
        return fail("keys is not a list");
    };
    let mut keys = BTreeMap::new();
    for key in listed {
        members(key, "a key", &["key_id", "public_key", "announced"], &[])?;
        members(&key["announced"], "a key's announcement", &["event", "proof"], &[])?;
        let id = text(key, "key_id")?;
        let public = hex32(&key["public_key"], "public_key")?;
        let public = VerifyingKey::from_bytes(&public)
            .ok()
            .filter(|key| !key.is_weak() && key.to_edwards().compress().to_bytes() == public)
            .ok_or_else(|| Failure(format!("key {id}: not a strong Ed25519 public key")))?;
        if key_id(&public) != id {
            return fail(format!("key {id}: its key_id does not name its public key"));
        }
        let announced = number(&key["announced"]["event"], "seq")
            .map_err(|Failure(m)| Failure(format!("key {id}: its announcement: {m}")))?;
        if keys
            .insert(id.to_string(), Carried { key: public, announced })
            .is_some()
        {
            return fail(format!("key {id}: listed twice"));
        }
    }
    for key in listed {
        let id = text(key, "key_id")?;
        let announced = &key["announced"]["event"];
        let bad = |Failure(message)| Failure(format!("key {id}: its announcement: {message}"));
        let data = &announced["data"];
        if announced["kind"] != "signing_key.added"
            || announced["subject"] != "ledger"
            || data["algorithm"] != "ed25519"
            || data["public_key"] != key["public_key"]
            || data["key_id"] != key["key_id"]
        {
            return fail(format!(
                "key {id}: its announcement is not the signing_key.added event of this key"
            ));
        }
        let (_, hash) = check_event(announced, &keys).map_err(bad)?;
        check_inclusion(announced, &hash, &key["announced"]["proof"], &checkpoint).map_err(bad)?;
    }
    let signer = text(point, "key_id")?;
    let Some(signer_key) = keys.get(signer).map(|carried| carried.key) else {
        return fail(format!(
            "the checkpoint is signed by {signer}, a key the bundle does not carry"
        ));
    };
    if !pinned.is_empty() && !pinned.contains(&signer_key) {
        return fail(format!(
            "the checkpoint is signed by {signer}, which is not a key you trust"
        ));
    }
    let statement = format!(
        "{{\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":{}}}",
        hex::encode(checkpoint.head),
        hex::encode(checkpoint.root),
        checkpoint.tree_size
    );
    let digest = blake3_of(&[CHECKPOINT_DOMAIN, statement.as_bytes()]);
    if !signs(&signer_key, &digest, &signature(&point["sig"], "the checkpoint's sig")?) {
        return fail("the checkpoint's signature does not verify");
    }
    Ok((checkpoint, keys))
}

pub(crate) fn verify(reader: impl BufRead, pinned: &[VerifyingKey]) -> Result<Report, Failure> {
    let mut lines = Lines::new(reader);
    let Some(header) = lines
        .next()
        .map_err(|Failure(m)| Failure(m.replacen("line 1:", "line 1: header:", 1)))?
    else {
        return fail("line 1: header: the bundle is empty");
    };
    let (checkpoint, keys) = check_header(&header, pinned).map_err(on_header)?;
    let signer = text(&header["checkpoint"], "key_id")?.to_string();
    let signer_key = keys[&signer].key;

    // The running digest ("marks"): the whole header first.
    let mut header_bytes = Vec::new();
    canonical(&header, &mut header_bytes).map_err(on_header)?;
    let mut mark = blake3_of(&[SEAL_DOMAIN, &(header_bytes.len() as u64).to_be_bytes(), &header_bytes]);
    let selection = &header["selection"];
    let range = match selection["kind"].as_str() {
        Some("range") => Some((number(selection, "from")?, number(selection, "to")?)),
        _ => None,
    };

    // The events.
    let mut count = 0u64;
    let mut first = None;
    let mut previous: Option<(u64, Hash)> = None;
    let (seal_number, seal_line) = loop {
        let Some(entry) = lines.next()? else {
            return fail(format!("line {}: seal: missing: the bundle is cut short", lines.number));
        };
        let line_number = lines.number;
        if entry.get("seal").is_some() && entry.get("event").is_none() {
            break (line_number, entry);
        }
        let event = &entry["event"];
        let seq = event["seq"].as_u64().unwrap_or(0);
        let at = |Failure(message)| Failure(format!("line {line_number} (seq {seq}): {message}"));
        members(&entry, "the line", &["event", "mark"], &["proof"]).map_err(at)?;
        let (seq, hash) = check_event(event, &keys).map_err(at)?;
        match (range, previous) {
            (Some((from, _)), None) if seq != from => return Err(at(Failure(format!("the range starts at {from}")))),
            (Some(_), Some((before, before_hash))) => {
                if seq != before + 1 {
                    return Err(at(Failure(format!(
                        "it follows seq {before}: an event is missing or out of order"
                    ))));
                }
                if hex32(&event["prev"], "prev").map_err(at)? != before_hash {
                    return Err(at(Failure(format!("its prev is not the hash of seq {before}"))));
                }
            }
            (None, Some((before, _))) if seq <= before => {
                return Err(at(Failure(format!("it follows seq {before}: out of order"))));
            }
            _ => {}
        }
        let last_of_range = range.is_some_and(|(_, to)| to == seq);
        if range.is_none() || last_of_range || entry.get("proof").is_some() {
            check_inclusion(event, &hash, &entry["proof"], &checkpoint).map_err(at)?;
        }
        mark = blake3_of(&[SEAL_DOMAIN, &mark, &seq.to_be_bytes(), &hash]);
        if hex32(&entry["mark"], "mark").map_err(at)? != mark {
            return Err(at(Failure(
                "the bundle's running digest breaks here: an event before it was removed, added or moved".into(),
            )));
        }
        count += 1;
        first.get_or_insert((seq, hex32(&event["prev"], "prev").map_err(at)?));
        previous = Some((seq, hash));
    };

    // The seal.
    let on_seal = |Failure(message)| Failure(format!("line {seal_number}: seal: {message}"));
    if let Some((_, to)) = range
        && previous.map(|(seq, _)| seq) != Some(to)
    {
        return Err(on_seal(Failure(format!(
            "the range ends at {to} but the events stop at {}",
            previous.map_or(0, |(seq, _)| seq)
        ))));
    }
    members(&seal_line, "the seal's line", &["seal"], &[]).map_err(on_seal)?;
    let sealed = &seal_line["seal"];
    members(sealed, "the seal", &["events", "digest", "key_id", "sig"], &[]).map_err(on_seal)?;
    if text(sealed, "key_id").map_err(on_seal)? != signer {
        return Err(on_seal(Failure("signed by another key than the checkpoint".into())));
    }
    let digest = hex32(&sealed["digest"], "its digest").map_err(on_seal)?;
    if !signs(
        &signer_key,
        &digest,
        &signature(&sealed["sig"], "its sig").map_err(on_seal)?,
    ) {
        return Err(on_seal(Failure("its signature does not verify".into())));
    }
    let sealed_count = number(sealed, "events").map_err(on_seal)?;
    if sealed_count != count {
        return Err(on_seal(Failure(format!(
            "{sealed_count} events were sealed, the bundle holds {count}: events were added or removed"
        ))));
    }
    if mark != digest {
        return Err(on_seal(Failure(
            "its digest does not match the events: an event was added, removed or moved".into(),
        )));
    }
    match lines.next() {
        Ok(None) => {}
        Ok(Some(_)) => return fail(format!("line {}: text after the seal", lines.number)),
        Err(Failure(message)) => return fail(format!("{message} (text after the seal)")),
    }
    let selection = match range {
        Some((from, to)) => format!("the range {from}..{to}"),
        None => format!("a search of org {}", selection["org"].as_str().unwrap_or("?")),
    };
    Ok(Report {
        events: count,
        selection,
        first,
        last: previous,
        checkpoint,
        signer,
        signer_key,
        keys: keys.values().map(|carried| carried.key).collect(),
    })
}
