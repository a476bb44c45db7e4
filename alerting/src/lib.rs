//! Warden's alerting: rules over the event stream ([`rule`]), the
//! evaluator that applies them in `seq` order ([`evaluator`]), the sink
//! that runs it on the live stream ([`sink`]), the built-in rule
//! templates ([`templates`]), Standard Webhooks signatures
//! ([`webhook`]) and delivery to webhooks and email ([`deliver`]). See `docs/alerting/rules.md`
//! and decision 0014.

pub mod deliver;
pub mod evaluator;
pub mod form;
pub mod hours;
pub mod rule;
pub mod sink;
pub mod templates;
pub mod webhook;

pub use evaluator::{Evaluator, Firing, Rule};
pub use rule::{Condition, Field, FieldCondition, RuleError, RuleSpec, Selector, Severity, Test};
