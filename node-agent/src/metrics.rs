//! Metric families collected during one scrape and their rendering in the
//! Prometheus text exposition format 0.0.4.
//!
//! Families are kept in a `BTreeMap` so the output is sorted by name, and the
//! samples of a family are sorted by their labels when rendered: the same
//! order node_exporter (client_golang) produces, which keeps diffs readable.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing value.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// node_exporter exports some raw kernel fields (vmstat, netstat) as untyped.
    Untyped,
    /// Quantiles plus `_sum` and `_count` (only from text files).
    Summary,
    /// `_bucket{le}` plus `_sum` and `_count` (only from text files).
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Summary => "summary",
            MetricType::Histogram => "histogram",
        }
    }
}

/// A label name: static for the collectors, owned for text files.
pub type LabelName = Cow<'static, str>;

/// One sample: label pairs (in declaration order) and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name: `""`, or `_bucket`/`_sum`/`_count` in
    /// summaries and histograms.
    pub suffix: &'static str,
    /// Label names and values.
    pub labels: Vec<(LabelName, String)>,
    /// The sample value.
    pub value: f64,
}

impl Sample {
    /// Sort key: the series' own labels (without `le`/`quantile`), then
    /// buckets/quantiles before `_sum` before `_count`, as client_golang
    /// writes them. Bucket order within a series is kept (stable sort).
    fn series_key(&self) -> (Vec<&(LabelName, String)>, u8) {
        let labels = self
            .labels
            .iter()
            .filter(|(k, _)| k != "le" && k != "quantile")
            .collect();
        let rank = match self.suffix {
            "_sum" => 1,
            "_count" => 2,
            _ => 0,
        };
        (labels, rank)
    }
}

/// All samples of one metric name.
#[derive(Debug, Clone)]
pub struct Family {
    help: String,
    kind: MetricType,
    samples: Vec<Sample>,
}

/// The families collected for one scrape.
#[derive(Debug, Default)]
pub struct MetricSet {
    families: BTreeMap<String, Family>,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample; the first call for a name fixes its help and type.
    pub fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let labels = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), (*v).to_string()))
            .collect();
        self.push_sample(
            name,
            help,
            kind,
            Sample {
                suffix: "",
                labels,
                value,
            },
        );
    }

    /// Like [`MetricSet::push`] with already owned label values.
    pub fn push_owned(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect();
        self.push_sample(
            name,
            help,
            kind,
            Sample {
                suffix: "",
                labels,
                value,
            },
        );
    }

    /// Adds a fully built sample (any label names, a suffix).
    pub fn push_sample(&mut self, name: &str, help: &str, kind: MetricType, sample: Sample) {
        let family = match self.families.get_mut(name) {
            Some(f) => f,
            None => self.families.entry(name.to_string()).or_insert(Family {
                help: help.to_string(),
                kind,
                samples: Vec::new(),
            }),
        };
        family.samples.push(sample);
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.push(name, help, MetricType::Gauge, &[], value);
    }

    /// A counter without labels.
    pub fn counter(&mut self, name: &str, help: &str, value: f64) {
        self.push(name, help, MetricType::Counter, &[], value);
    }

    /// Number of samples over all families.
    pub fn sample_count(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }

    /// Renders the text exposition format 0.0.4.
    pub fn render(mut self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        for (name, family) in self.families.iter_mut() {
            if matches!(family.kind, MetricType::Summary | MetricType::Histogram) {
                family
                    .samples
                    .sort_by(|a, b| a.series_key().cmp(&b.series_key()));
            } else {
                family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for s in &family.samples {
                out.push_str(name);
                out.push_str(s.suffix);
                if !s.labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(k);
                        out.push_str("=\"");
                        escape_label_into(&mut out, v);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                write_value(&mut out, s.value);
                out.push('\n');
            }
        }
        out
    }
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes a value the way Go's `strconv.FormatFloat(v, 'g', -1, 64)` would
/// for the common cases: integers in plain form, otherwise the shortest
/// representation that round-trips.
fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else if v != 0.0 && (v.abs() >= 1e21 || v.abs() < 1e-4) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_families_with_escaped_labels() {
        let mut set = MetricSet::new();
        set.gauge("b_metric", "B.", 1.5);
        set.push(
            "a_metric",
            "A with \\ and\nnewline.",
            MetricType::Counter,
            &[("x", "q\"uote")],
            2.0,
        );
        set.push(
            "a_metric",
            "ignored",
            MetricType::Counter,
            &[("x", "a")],
            3.0,
        );
        let text = set.render();
        let expected = "# HELP a_metric A with \\\\ and\\nnewline.\n# TYPE a_metric counter\n\
            a_metric{x=\"a\"} 3\na_metric{x=\"q\\\"uote\"} 2\n\
            # HELP b_metric B.\n# TYPE b_metric gauge\nb_metric 1.5\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn formats_special_values() {
        let mut s = String::new();
        for v in [f64::NAN, f64::INFINITY, 1e22, 0.00001, 3.0, 444.9] {
            write_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "NaN +Inf 1e22 1e-5 3 444.9 ");
    }
}
