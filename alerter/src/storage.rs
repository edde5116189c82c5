//! In-memory series storage, bounded by what the loaded rules can look back
//! over (see [`Storage::truncate_before`]).

use std::collections::{BTreeMap, HashMap};

use promql_parser::label::Matcher;

/// A label set; `__name__` holds the metric name. Sorted, so it hashes and
/// prints in a stable order.
pub type Labels = BTreeMap<String, String>;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The bit pattern Prometheus uses for staleness markers.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker: a sample value telling queries the series ended here.
pub fn stale_marker() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is a staleness marker (not any NaN: only that exact pattern).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: timestamp in milliseconds since the epoch, and value.
pub type Point = (i64, f64);

/// All series, indexed by metric name for fast selection.
#[derive(Debug, Default)]
pub struct Storage {
    by_name: HashMap<String, HashMap<Labels, Vec<Point>>>,
}

impl Storage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; out-of-order samples are dropped and a sample at the
    /// same timestamp replaces the previous one.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        let name = labels.get(METRIC_NAME).map(String::as_str).unwrap_or("");
        let series_map = match self.by_name.get_mut(name) {
            Some(m) => m,
            None => self.by_name.entry(name.to_string()).or_default(),
        };
        let points = match series_map.get_mut(labels) {
            Some(p) => p,
            None => series_map.entry(labels.clone()).or_default(),
        };
        match points.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            Some(last) if last.0 > t => {}
            _ => points.push((t, v)),
        }
    }

    /// The series matching a metric name (if any) and all `matchers`.
    pub fn select<'a>(
        &'a self,
        name: Option<&'a str>,
        matchers: &'a [Matcher],
    ) -> Box<dyn Iterator<Item = (&'a Labels, &'a [Point])> + 'a> {
        let name = name.or_else(|| {
            matchers.iter().find_map(|m| {
                (m.name == METRIC_NAME && matches!(m.op, promql_parser::label::MatchOp::Equal))
                    .then_some(m.value.as_str())
            })
        });
        let filter = move |(labels, points): (&'a Labels, &'a Vec<Point>)| {
            matchers
                .iter()
                .all(|m| m.is_match(labels.get(&m.name).map(String::as_str).unwrap_or("")))
                .then_some((labels, points.as_slice()))
        };
        match name {
            Some(n) => match self.by_name.get(n) {
                Some(series) => Box::new(series.iter().filter_map(filter)),
                None => Box::new(std::iter::empty()),
            },
            None => Box::new(
                self.by_name
                    .values()
                    .flat_map(|s| s.iter())
                    .filter_map(filter),
            ),
        }
    }

    /// The latest point of one exact series, if any.
    pub fn last_point(&self, labels: &Labels) -> Option<Point> {
        let name = labels.get(METRIC_NAME).map(String::as_str).unwrap_or("");
        self.by_name.get(name)?.get(labels)?.last().copied()
    }

    /// Drops every sample older than `mint` (ms) and series left empty.
    pub fn truncate_before(&mut self, mint: i64) {
        for series in self.by_name.values_mut() {
            series.retain(|_, points| {
                let keep_from = points.partition_point(|p| p.0 < mint);
                points.drain(..keep_from);
                !points.is_empty()
            });
        }
        self.by_name.retain(|_, s| !s.is_empty());
    }

    /// Number of series held.
    pub fn series_count(&self) -> usize {
        self.by_name.values().map(HashMap::len).sum()
    }

    /// Number of samples held.
    pub fn sample_count(&self) -> usize {
        self.by_name
            .values()
            .flat_map(|s| s.values())
            .map(Vec::len)
            .sum()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.by_name.clear();
    }
}

/// Builds a label set from pairs (test and fixture helper).
pub fn labels_from<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Formats labels the PromQL way: `name{a="b", c="d"}`.
pub fn format_labels(labels: &Labels) -> String {
    let name = labels.get(METRIC_NAME).cloned().unwrap_or_default();
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != METRIC_NAME)
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_truncates() {
        let mut s = Storage::new();
        let l = labels_from([(METRIC_NAME, "up"), ("job", "a")]);
        s.append(&l, 1000, 1.0);
        s.append(&l, 500, 2.0);
        s.append(&l, 2000, 3.0);
        assert_eq!(s.sample_count(), 2);
        s.truncate_before(1500);
        assert_eq!(s.last_point(&l), Some((2000, 3.0)));
        assert_eq!(s.sample_count(), 1);
        s.truncate_before(5000);
        assert_eq!(s.series_count(), 0);
        assert!(is_stale_marker(stale_marker()));
        assert!(!is_stale_marker(f64::NAN));
    }
}
