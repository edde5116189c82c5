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

/// How long samples must be kept, derived from the loaded rules.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Window for metrics not listed in `per_name` (ms).
    pub default_ms: i64,
    /// Window per metric name (ms): the longest `range + offset` of its range
    /// selectors, or `offset + lookback` of its offset instant selectors.
    pub per_name: HashMap<String, i64>,
    /// The newest sample of a series is kept this long (the lookback), so
    /// instant selectors still find it.
    pub lookback_ms: i64,
}

/// One series: its labels and points in time order.
#[derive(Debug, Clone)]
struct Series {
    labels: Labels,
    points: Vec<Point>,
}

/// The identity of a series inside [`Storage`]: a 64-bit hash of its labels.
pub type SeriesId = u64;

/// The id [`Storage`] uses for a label set.
pub fn series_id(labels: &Labels) -> SeriesId {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

/// All series, by id, with an index by metric name for fast selection.
#[derive(Debug, Default)]
pub struct Storage {
    series: HashMap<SeriesId, Series>,
    by_name: HashMap<String, Vec<SeriesId>>,
}

impl Storage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; out-of-order samples are dropped and a sample at the
    /// same timestamp replaces the previous one. Returns the series id.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> SeriesId {
        let id = series_id(labels);
        let series = match self.series.get_mut(&id) {
            Some(s) => s,
            None => {
                // Keep each name's ids sorted by labels: selections then come
                // out in Prometheus's order, which fixes the order (and so
                // the exact floating-point result) of sums.
                let name = labels.get(METRIC_NAME).cloned().unwrap_or_default();
                let ids = self.by_name.entry(name).or_default();
                let all = &self.series;
                let pos = ids.partition_point(|o| all.get(o).is_some_and(|s| s.labels < *labels));
                ids.insert(pos, id);
                self.series.entry(id).or_insert_with(|| Series {
                    labels: labels.clone(),
                    points: Vec::new(),
                })
            }
        };
        if series.labels != *labels {
            // A 64-bit hash collision: keep the first series intact.
            tracing::warn!(?labels, "series id collision; sample dropped");
            return id;
        }
        push_point(&mut series.points, t, v);
        id
    }

    /// Appends to a series known by id; false if the store no longer holds it.
    pub fn append_id(&mut self, id: SeriesId, t: i64, v: f64) -> bool {
        match self.series.get_mut(&id) {
            Some(s) => {
                push_point(&mut s.points, t, v);
                true
            }
            None => false,
        }
    }

    /// Appends a staleness marker to a series known by id (if still held).
    pub fn mark_stale(&mut self, id: SeriesId, t: i64) {
        if let Some(s) = self.series.get_mut(&id) {
            if !s.points.last().is_some_and(|p| is_stale_marker(p.1)) {
                push_point(&mut s.points, t, stale_marker());
            }
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
        let filter = move |s: &'a Series| {
            matchers
                .iter()
                .all(|m| m.is_match(s.labels.get(&m.name).map(String::as_str).unwrap_or("")))
                .then_some((&s.labels, s.points.as_slice()))
        };
        match name {
            Some(n) => match self.by_name.get(n) {
                Some(ids) => Box::new(
                    ids.iter()
                        .filter_map(|id| self.series.get(id))
                        .filter_map(filter),
                ),
                None => Box::new(std::iter::empty()),
            },
            None => {
                let mut all: Vec<&'a Series> = self.series.values().collect();
                all.sort_by(|a, b| a.labels.cmp(&b.labels));
                Box::new(all.into_iter().filter_map(filter))
            }
        }
    }

    /// The latest point of one exact series, if any.
    pub fn last_point(&self, labels: &Labels) -> Option<Point> {
        self.series.get(&series_id(labels))?.points.last().copied()
    }

    /// Drops samples older than `mint` (ms) and series left empty.
    pub fn truncate_before(&mut self, mint: i64) {
        self.truncate(
            mint,
            &Retention {
                default_ms: 0,
                per_name: HashMap::new(),
                lookback_ms: 0,
            },
        );
    }

    /// Drops what no rule can read at `now` or later under `retention`.
    pub fn truncate(&mut self, now: i64, retention: &Retention) {
        let mut emptied = false;
        self.series.retain(|_, s| {
            let name = s.labels.get(METRIC_NAME).map(String::as_str).unwrap_or("");
            let window = retention
                .per_name
                .get(name)
                .copied()
                .unwrap_or(retention.default_ms);
            let mint = now - window;
            let mut cut = s.points.partition_point(|p| p.0 < mint);
            // The newest sample stays while an instant selector could see it.
            if cut == s.points.len()
                && s.points
                    .last()
                    .is_some_and(|p| p.0 >= now - retention.lookback_ms)
            {
                cut -= 1;
            }
            s.points.drain(..cut);
            if s.points.capacity() > 2 * s.points.len() + 8 {
                s.points.shrink_to(s.points.len() + s.points.len() / 4 + 4);
            }
            emptied |= s.points.is_empty();
            !s.points.is_empty()
        });
        if emptied {
            let series = &self.series;
            self.by_name.retain(|_, ids| {
                ids.retain(|id| series.contains_key(id));
                !ids.is_empty()
            });
        }
    }

    /// Number of series held.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Number of samples held.
    pub fn sample_count(&self) -> usize {
        self.series.values().map(|s| s.points.len()).sum()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.series.clear();
        self.by_name.clear();
    }
}

fn push_point(points: &mut Vec<Point>, t: i64, v: f64) {
    match points.last_mut() {
        Some(last) if last.0 == t => last.1 = v,
        Some(last) if last.0 > t => {}
        _ => points.push((t, v)),
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
    fn keeps_each_metric_as_long_as_rules_read_it() {
        let mut s = Storage::new();
        let a = labels_from([(METRIC_NAME, "ranged")]);
        let b = labels_from([(METRIC_NAME, "instant")]);
        for t in 0..100 {
            s.append(&a, t * 1000, 1.0);
            s.append(&b, t * 1000, 1.0);
        }
        let retention = Retention {
            default_ms: 0,
            per_name: [("ranged".to_string(), 10_000)].into_iter().collect(),
            lookback_ms: 300_000,
        };
        s.truncate(99_000, &retention);
        assert_eq!(
            s.sample_count(),
            11 + 1,
            "10s window (inclusive) plus the newest instant sample"
        );
        s.truncate(99_000 + 400_000, &retention);
        assert_eq!(s.series_count(), 0);
    }

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
        let id = s.append(&l, 6000, 1.0);
        s.mark_stale(id, 7000);
        assert!(is_stale_marker(s.last_point(&l).unwrap().1));
        assert!(is_stale_marker(stale_marker()));
        assert!(!is_stale_marker(f64::NAN));
    }
}
