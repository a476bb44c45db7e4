//! What a search's matches are made of: how many of each kind, outcome
//! and actor (the most frequent first), and how they spread over time (a
//! histogram of equal spans between the first match and the last). Read
//! from the index's columns in two passes over the matches, never from
//! the log.

use serde_json::json;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::{AggregationResult, AggregationResults, BucketResult, MetricResult};
use tantivy::aggregation::metric::SingleMetricResult;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard, Key};
use tantivy::tokenizer::TokenizerManager;

use super::{AuditIndex, AuditIndexError, AuditQuery, Inner};

/// Values of a facet shown at most.
pub const FACET_SIZE: u32 = 8;

/// One value of a facet and how many matches have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub value: String,
    pub count: u64,
}

/// One span of the histogram: matches from `from_us` (microseconds since
/// the epoch) for `span_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub from_us: i64,
    pub span_us: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub kinds: Vec<Count>,
    pub outcomes: Vec<Count>,
    /// By actor id; anonymous and system events have none.
    pub actors: Vec<Count>,
    /// Empty when nothing matches.
    pub histogram: Vec<Bar>,
}

impl AuditIndex {
    /// The facets of `query`'s matches, with a histogram of `bars` spans.
    /// Blocking: run it off the async workers.
    pub fn facets(&self, query: &AuditQuery, bars: u32) -> Result<Facets, AuditIndexError> {
        let Inner {
            index, reader, fields, ..
        } = &*self.inner;
        let searcher = reader.searcher();
        let terms = |field: &str, size: u32| json!({ "terms": { "field": field, "size": size } });
        let first = aggregate(
            &searcher,
            &*query.build(index, fields)?,
            json!({
                "kinds": terms("kind", FACET_SIZE),
                "outcomes": terms("outcome", 3),
                "actors": terms("actor_id", FACET_SIZE),
                "first": { "min": { "field": "at_us" } },
                "last": { "max": { "field": "at_us" } },
            }),
        )?;
        let mut facets = Facets {
            kinds: counts(&first, "kinds"),
            outcomes: counts(&first, "outcomes"),
            actors: counts(&first, "actors"),
            histogram: Vec::new(),
        };
        let (Some(from), Some(to)) = (metric(&first, "first"), metric(&first, "last")) else {
            return Ok(facets);
        };
        let (from, to) = (from as i64, to as i64);
        let span = ((to - from) / i64::from(bars.max(1)) + 1).max(1);
        let second = aggregate(
            &searcher,
            &*query.build(index, fields)?,
            json!({
                "over_time": { "histogram": {
                    "field": "at_us",
                    "interval": span,
                    "offset": from.rem_euclid(span),
                    "min_doc_count": 0,
                    "extended_bounds": { "min": from, "max": to },
                } },
            }),
        )?;
        facets.histogram = bars_of(&second, from, span);
        Ok(facets)
    }

    /// How many of `query`'s matches fall in each of `bars` spans of
    /// `span_us` from `from_us` on: a fixed window (a dashboard's last 24
    /// hours), every span present, empty or not. Blocking: run it off the
    /// async workers.
    pub fn spread(
        &self,
        query: &AuditQuery,
        from_us: i64,
        span_us: i64,
        bars: u32,
    ) -> Result<Vec<Bar>, AuditIndexError> {
        let Inner {
            index, reader, fields, ..
        } = &*self.inner;
        let span = span_us.max(1);
        let until = from_us + span * i64::from(bars);
        let results = aggregate(
            &reader.searcher(),
            &*query.build(index, fields)?,
            json!({
                "over_time": { "histogram": {
                    "field": "at_us",
                    "interval": span,
                    "offset": from_us.rem_euclid(span),
                    "min_doc_count": 0,
                    "hard_bounds": { "min": from_us, "max": until - 1 },
                    "extended_bounds": { "min": from_us, "max": until - 1 },
                } },
            }),
        )?;
        Ok(bars_of(&results, from_us, span))
    }
}

fn bars_of(results: &AggregationResults, from: i64, span: i64) -> Vec<Bar> {
    match results.0.get("over_time") {
        Some(AggregationResult::BucketResult(BucketResult::Histogram { buckets })) => buckets
            .iter()
            .map(|bucket| Bar {
                from_us: match &bucket.key {
                    Key::F64(key) => *key as i64,
                    Key::I64(key) => *key,
                    Key::U64(key) => *key as i64,
                    Key::Str(_) => from,
                },
                span_us: span,
                count: bucket.doc_count,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn aggregate(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    request: serde_json::Value,
) -> Result<AggregationResults, AuditIndexError> {
    let request: Aggregations = serde_json::from_value(request)
        .map_err(|error| tantivy::TantivyError::InvalidArgument(format!("aggregation request: {error}")))?;
    let context = AggContextParams::new(AggregationLimitsGuard::default(), TokenizerManager::default());
    Ok(searcher.search(query, &AggregationCollector::from_aggs(request, context))?)
}

fn counts(results: &AggregationResults, name: &str) -> Vec<Count> {
    match results.0.get(name) {
        Some(AggregationResult::BucketResult(BucketResult::Terms { buckets, .. })) => buckets
            .iter()
            .map(|bucket| Count {
                value: match &bucket.key {
                    Key::Str(text) => text.clone(),
                    other => format!("{other:?}"),
                },
                count: bucket.doc_count,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn metric(results: &AggregationResults, name: &str) -> Option<f64> {
    match results.0.get(name) {
        Some(AggregationResult::MetricResult(
            MetricResult::Min(SingleMetricResult { value }) | MetricResult::Max(SingleMetricResult { value }),
        )) => *value,
        _ => None,
    }
}
