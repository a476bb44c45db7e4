//! The audit index's tantivy schema: one document per event.

use std::net::IpAddr;

use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};

use super::document::AuditDoc;

/// The tokenizer of the `text` field: words split on anything not a
/// letter or digit, lower-cased, those of 40 bytes or more dropped
/// (tantivy's `default`: `RemoveLongFilter::limit(40)` keeps shorter ones).
pub const TEXT_TOKENIZER: &str = "default";

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub seq: Field,
    /// Microseconds since the Unix epoch (`at` has exactly that precision).
    pub at_us: Field,
    pub kind: Field,
    pub kind_prefix: Field,
    pub actor_kind: Field,
    pub actor_id: Field,
    pub actor_display: Field,
    pub org: Field,
    pub subject: Field,
    pub user: Field,
    pub session: Field,
    pub outcome: Field,
    pub ip: Field,
    pub request_id: Field,
    /// A vendor's ticket (`actor.ticket`).
    pub ticket: Field,
    pub text: Field,
}

pub fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_TOKENIZER)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        seq: builder.add_u64_field("seq", INDEXED | FAST),
        at_us: builder.add_i64_field("at_us", INDEXED | FAST),
        // Kind, outcome and actor are also columns: the facets count them.
        kind: builder.add_text_field("kind", STRING | FAST),
        kind_prefix: builder.add_text_field("kind_prefix", STRING),
        actor_kind: builder.add_text_field("actor_kind", STRING),
        actor_id: builder.add_text_field("actor_id", STRING | FAST),
        actor_display: builder.add_text_field("actor_display", STRING),
        org: builder.add_text_field("org", STRING),
        subject: builder.add_text_field("subject", STRING),
        user: builder.add_text_field("user", STRING),
        session: builder.add_text_field("session", STRING),
        outcome: builder.add_text_field("outcome", STRING | FAST),
        ip: builder.add_ip_addr_field("ip", INDEXED | FAST),
        request_id: builder.add_text_field("request_id", STRING),
        ticket: builder.add_text_field("ticket", STRING),
        text: builder.add_text_field("text", words),
    };
    (builder.build(), fields)
}

/// IPv4 addresses are kept as IPv4-mapped IPv6, as tantivy stores them.
pub fn ip_key(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

impl Fields {
    pub fn document(&self, doc: &AuditDoc) -> TantivyDocument {
        let mut document = TantivyDocument::new();
        document.add_u64(self.seq, doc.seq);
        document.add_i64(self.at_us, doc.at.timestamp_micros());
        document.add_text(self.kind, &doc.kind);
        for prefix in doc.kind_prefixes() {
            document.add_text(self.kind_prefix, prefix);
        }
        document.add_text(self.actor_kind, doc.actor_kind.as_str());
        let optional = [
            (self.actor_id, &doc.actor_id),
            (self.actor_display, &doc.actor_display),
            (self.org, &doc.org),
            (self.user, &doc.user),
            (self.session, &doc.session),
            (self.ticket, &doc.ticket),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                document.add_text(field, value);
            }
        }
        document.add_text(self.subject, &doc.subject);
        document.add_text(self.outcome, doc.outcome.as_str());
        if let Some(ip) = doc.ip {
            document.add_ip_addr(self.ip, ip_key(ip));
        }
        if !doc.request_id.is_empty() {
            document.add_text(self.request_id, &doc.request_id);
        }
        for words in &doc.text {
            document.add_text(self.text, words);
        }
        document
    }
}
