//! The NATS JetStream bus of the production profile.
//!
//! One stream, `<PREFIX>_EVENTS`, subjects `<prefix>.events.<kind>`. Every
//! message is published with `Nats-Msg-Id = seq` and
//! `Nats-Expected-Last-Sequence = seq - 1`, so the stream sequence equals
//! `seq` and a message that would duplicate or skip is refused by the
//! server itself.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, message::PublishMessage, stream};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::OnceCell;

use super::{Bus, BusError};
use crate::event::Event;

pub struct NatsBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream_name: String,
    subject_prefix: String,
    /// Core NATS subjects (not the stream) of the nodes' notes.
    notes_prefix: String,
    stream: OnceCell<stream::Stream>,
}

fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

impl NatsBus {
    /// Connects to `url`. A server that is down now is retried in the
    /// background: Warden starts, appends, and catches the stream up later.
    /// `prefix` names the stream and subjects (lower-case letters, digits
    /// and `_`), so several deployments or test runs can share one server.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BusError> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(BusError::Unavailable(format!(
                "stream prefix {prefix:?} must be lower-case letters, digits and _"
            )));
        }
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(3))
            .connect(url)
            .await
            .map_err(unavailable)?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client.clone());
        Ok(NatsBus {
            client,
            jetstream,
            stream_name: format!("{}_EVENTS", prefix.to_ascii_uppercase()),
            subject_prefix: format!("{prefix}.events"),
            notes_prefix: format!("{prefix}.notes"),
            stream: OnceCell::new(),
        })
    }

    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    async fn stream(&self) -> Result<&stream::Stream, BusError> {
        self.stream
            .get_or_try_init(|| async {
                self.jetstream
                    .get_or_create_stream(stream::Config {
                        name: self.stream_name.clone(),
                        subjects: vec![format!("{}.>", self.subject_prefix)],
                        storage: stream::StorageType::File,
                        duplicate_window: Duration::from_secs(120),
                        // The log is the truth; consumers further behind
                        // than this read from it.
                        max_age: Duration::from_secs(7 * 24 * 3600),
                        ..Default::default()
                    })
                    .await
                    .map_err(unavailable)
            })
            .await
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn last_published(&self) -> Result<u64, BusError> {
        let info = self.stream().await?.get_info().await.map_err(unavailable)?;
        Ok(info.state.last_sequence)
    }

    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        let last = self.last_published().await?;
        let mut acks = Vec::with_capacity(events.len());
        let mut expected = last;
        for event in events.iter().filter(|event| event.seq > last) {
            if event.seq != expected + 1 {
                return Err(BusError::OutOfStep(format!(
                    "seq {} does not follow {expected}",
                    event.seq
                )));
            }
            let payload = serde_json::to_vec(event).map_err(unavailable)?;
            let message = PublishMessage::build()
                .payload(payload.into())
                .message_id(event.seq.to_string())
                .expected_last_sequence(expected);
            let subject = format!("{}.{}", self.subject_prefix, event.kind);
            acks.push((
                event.seq,
                self.jetstream
                    .send_publish(subject, message)
                    .await
                    .map_err(unavailable)?,
            ));
            expected = event.seq;
        }
        for (seq, ack) in acks {
            let ack = ack.await.map_err(unavailable)?;
            if ack.sequence != seq {
                return Err(BusError::OutOfStep(format!(
                    "seq {seq} was stored as stream sequence {}",
                    ack.sequence
                )));
            }
        }
        Ok(())
    }

    async fn subscribe(&self, from: u64) -> Result<BoxStream<'static, Result<Event, BusError>>, BusError> {
        let consumer = self
            .stream()
            .await?
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        let messages = consumer.messages().await.map_err(unavailable)?;
        Ok(messages
            .map(|message| {
                let message = message.map_err(unavailable)?;
                let stream_sequence = message.info().map_err(unavailable)?.stream_sequence;
                let event: Event = crate::strict_json::from_slice(&message.payload)
                    .map_err(|error| BusError::OutOfStep(format!("unreadable message {stream_sequence}: {error}")))?;
                if event.seq != stream_sequence {
                    return Err(BusError::OutOfStep(format!(
                        "message {stream_sequence} carries seq {}",
                        event.seq
                    )));
                }
                Ok(event)
            })
            .boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.last_published().await.map(|_| ())
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn broadcast(&self, topic: &str, payload: Vec<u8>) -> Result<(), BusError> {
        self.client
            .publish(format!("{}.{topic}", self.notes_prefix), payload.into())
            .await
            .map_err(unavailable)
    }

    async fn listen(&self, topic: &str) -> Result<BoxStream<'static, Vec<u8>>, BusError> {
        let subscriber = self
            .client
            .subscribe(format!("{}.{topic}", self.notes_prefix))
            .await
            .map_err(unavailable)?;
        Ok(subscriber.map(|message| message.payload.to_vec()).boxed())
    }
}
