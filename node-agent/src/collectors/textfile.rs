//! `textfile`: metrics that other programs write to `*.prom` files in
//! `--collector.textfile.directory`, merged into the scrape the way
//! node_exporter 1.12 does it:
//!
//! - a file that does not parse, or has client-side timestamps, is skipped
//!   whole and sets `node_textfile_scrape_error 1`;
//! - a family without help text gets `Metric read from <files>`; the same
//!   family in several files is merged, unless its help or type differs,
//!   then the later file's samples are dropped and the error is set;
//! - within a family, labels missing on some samples are filled with `""`;
//! - `node_textfile_mtime_seconds{file}` for each file read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{anyhow, bail, Result};

use super::{read_file, Collector};
use crate::metrics::{MetricSet, MetricType, Sample};
use crate::parse::{parse_value, split_sample};
use crate::settings::Config;

/// Reads `*.prom` files.
pub struct TextfileCollector {
    dir: Option<PathBuf>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    let dir = (!config.textfile_directory.as_os_str().is_empty())
        .then(|| config.textfile_directory.clone());
    Ok(Box::new(TextfileCollector { dir }))
}

/// One family read from files.
#[derive(Debug, Clone)]
struct Family {
    help: Option<String>,
    kind: MetricType,
    /// (suffix, labels, value) in file order.
    samples: Samples,
    files: Vec<String>,
}

fn kind_of(s: &str) -> Result<MetricType> {
    Ok(match s {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "untyped" => MetricType::Untyped,
        "summary" => MetricType::Summary,
        "histogram" => MetricType::Histogram,
        other => bail!("unknown metric type {other:?}"),
    })
}

/// Which family and suffix a sample name belongs to.
fn family_of<'a>(name: &'a str, families: &BTreeMap<String, Family>) -> (&'a str, &'static str) {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            let kind = families.get(base).map(|f| f.kind);
            let fits = match kind {
                Some(MetricType::Histogram) => true,
                Some(MetricType::Summary) => suffix != "_bucket",
                _ => false,
            };
            if fits {
                return (base, suffix);
            }
        }
    }
    (name, "")
}

fn unescape_help(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\\\", "\\")
}

/// Parses one file into families.
fn parse_file(text: &str) -> Result<BTreeMap<String, Family>> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let new = |kind| Family {
        help: None,
        kind,
        samples: Vec::new(),
        files: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let err = |what: &str| anyhow!("line {}: {what}: {line:?}", i + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let f = families
                .entry(name.to_string())
                .or_insert_with(|| new(MetricType::Untyped));
            f.help = Some(unescape_help(help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| err("bad TYPE"))?;
            let kind = kind_of(kind.trim()).map_err(|e| err(&e.to_string()))?;
            let f = families
                .entry(name.to_string())
                .or_insert_with(|| new(kind));
            if !f.samples.is_empty() {
                return Err(err("TYPE after samples"));
            }
            f.kind = kind;
        } else if line.starts_with('#') {
            continue;
        } else {
            let (name, labels, rest) = split_sample(line).ok_or_else(|| err("bad sample"))?;
            let mut fields = rest.split_whitespace();
            let value = fields
                .next()
                .and_then(parse_value)
                .ok_or_else(|| err("bad value"))?;
            if fields.next().is_some() {
                bail!("textfile contains unsupported client-side timestamps, skipping entire file");
            }
            let (family, suffix) = family_of(&name, &families);
            let f = families
                .entry(family.to_string())
                .or_insert_with(|| new(MetricType::Untyped));
            f.samples.push((suffix, labels, value));
        }
    }
    families.retain(|_, f| !f.samples.is_empty());
    Ok(families)
}

impl TextfileCollector {
    fn read_dir(&self, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
        let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| {
                anyhow!(
                    "failed to read textfile collector directory {}: {e}",
                    dir.display()
                )
            })?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".prom"))
            .map(|e| {
                (
                    dir.join(e.file_name()).to_string_lossy().into_owned(),
                    e.path(),
                )
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Merges `file`'s families into `all`; false if something conflicted.
fn merge(all: &mut BTreeMap<String, Family>, file: &str, parsed: BTreeMap<String, Family>) -> bool {
    let mut ok = true;
    for (name, mut f) in parsed {
        f.files.push(file.to_string());
        match all.get_mut(&name) {
            None => {
                all.insert(name, f);
            }
            Some(existing) => {
                let help_clash = matches!((&existing.help, &f.help), (Some(a), Some(b)) if a != b && !a.is_empty() && !b.is_empty());
                if existing.kind != f.kind || help_clash {
                    ok = false;
                    continue;
                }
                existing.files.push(file.to_string());
                existing.samples.extend(f.samples);
            }
        }
    }
    ok
}

fn emit(out: &mut MetricSet, name: &str, f: Family) {
    let help = match f.help {
        Some(h) if !h.is_empty() => h,
        _ => format!("Metric read from {}", f.files.join(", ")),
    };
    let structural = |k: &str| k == "le" || k == "quantile";
    let mut all_labels: Vec<String> = f
        .samples
        .iter()
        .flat_map(|(_, l, _)| l.keys().filter(|k| !structural(k)).cloned())
        .collect();
    all_labels.sort();
    all_labels.dedup();
    let mut samples = f.samples;
    for (_, labels, _) in samples.iter_mut() {
        for l in &all_labels {
            labels.entry(l.clone()).or_default();
        }
    }
    if matches!(f.kind, MetricType::Summary | MetricType::Histogram) {
        complete_series(f.kind, &mut samples);
    }
    for (suffix, labels, value) in samples {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), v))
            .collect();
        out.push_sample(
            name,
            &help,
            f.kind,
            Sample {
                suffix,
                labels,
                value,
            },
        );
    }
}

/// (suffix, labels, value) of a family's samples.
type Samples = Vec<(&'static str, BTreeMap<String, String>, f64)>;

/// Gives every summary/histogram series (label set without `le`/`quantile`)
/// its `_sum` and `_count` (0 when the file had none) and a histogram its
/// `+Inf` bucket (= count), as the Go client's model does when it re-renders.
fn complete_series(kind: MetricType, samples: &mut Samples) {
    let series_of = |l: &BTreeMap<String, String>| {
        let mut l = l.clone();
        l.remove("le");
        l.remove("quantile");
        l
    };
    let mut series: Vec<BTreeMap<String, String>> = Vec::new();
    for (_, l, _) in samples.iter() {
        let s = series_of(l);
        if !series.contains(&s) {
            series.push(s);
        }
    }
    for s in series {
        let find = |samples: &Samples, suffix: &str| {
            samples
                .iter()
                .find(|(x, l, _)| *x == suffix && series_of(l) == s)
                .map(|(_, _, v)| *v)
        };
        let count = find(samples, "_count");
        for suffix in ["_sum", "_count"] {
            if find(samples, suffix).is_none() {
                samples.push((suffix, s.clone(), 0.0));
            }
        }
        let has_inf = samples.iter().any(|(x, l, _)| {
            *x == "_bucket" && series_of(l) == s && l.get("le").is_some_and(|le| le == "+Inf")
        });
        if kind == MetricType::Histogram && !has_inf {
            let mut l = s.clone();
            l.insert("le".into(), "+Inf".into());
            samples.push(("_bucket", l, count.unwrap_or(0.0)));
        }
    }
}

impl Collector for TextfileCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut errored = false;
        let mut families = BTreeMap::new();
        let mut mtimes = Vec::new();
        if let Some(dir) = &self.dir {
            match self.read_dir(dir) {
                Err(e) => {
                    errored = true;
                    crate::log::log(
                        crate::log::Level::Error,
                        "textfile",
                        &[("err", &e.to_string())],
                    );
                }
                Ok(files) => {
                    for (label, path) in files {
                        let parsed = read_file(&path)
                            .map_err(anyhow::Error::from)
                            .and_then(|t| parse_file(&t));
                        let mtime = std::fs::metadata(&path).and_then(|m| m.modified());
                        match (parsed, mtime) {
                            (Ok(parsed), Ok(mtime)) => {
                                errored |= !merge(&mut families, &label, parsed);
                                let secs = mtime
                                    .duration_since(UNIX_EPOCH)
                                    .map(|d| d.as_secs_f64())
                                    .unwrap_or(0.0);
                                mtimes.push((label, secs));
                            }
                            (Err(e), _) => {
                                errored = true;
                                let msg = format!("{label}: {e:#}");
                                crate::log::log(
                                    crate::log::Level::Error,
                                    "failed to read textfile",
                                    &[("err", &msg)],
                                );
                            }
                            (_, Err(e)) => {
                                errored = true;
                                let msg = format!("{label}: {e}");
                                crate::log::log(
                                    crate::log::Level::Error,
                                    "failed to stat textfile",
                                    &[("err", &msg)],
                                );
                            }
                        }
                    }
                }
            }
        }
        for (name, f) in families {
            emit(out, &name, f);
        }
        for (file, secs) in mtimes {
            out.push(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                MetricType::Gauge,
                &[("file", &file)],
                secs,
            );
        }
        out.gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            if errored { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_histograms_and_rejects_timestamps() {
        let f = parse_file("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\nplain 1\n").unwrap();
        assert_eq!(f["h"].samples.len(), 4);
        assert_eq!(f["h"].samples[2].0, "_sum");
        assert_eq!(f["plain"].kind, MetricType::Untyped);
        assert!(parse_file("m 1 1441205977284\n").is_err());
        assert!(parse_file("m{a=\"1\" 1\n").is_err());
    }
}
