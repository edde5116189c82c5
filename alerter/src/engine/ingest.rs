//! Scrape results into storage: target labels, the per-target line cache,
//! `up` / `scrape_*` series, and staleness markers for what disappeared.

use std::collections::{HashMap, HashSet};

use super::{Engine, Health};
use crate::config::Target;
use crate::scrape::ScrapeOutcome;
use crate::storage::{Labels, SeriesId, METRIC_NAME};

impl Engine {
    /// Records one scrape of `target` taken at `ts` (ms).
    pub fn ingest(&mut self, target: &Target, ts: i64, outcome: ScrapeOutcome) {
        let Some(idx) = self
            .targets
            .iter()
            .position(|t| t.target.job == target.job && t.target.url == target.url)
        else {
            return; // Removed by a reload while the scrape ran.
        };
        let job = target.job.clone();
        *self.stats.scrapes.entry(job.clone()).or_default() += 1;
        let lines = match outcome
            .result
            .and_then(|body| validate_body(&self.targets[idx].cache, body))
        {
            Ok(lines) => {
                self.targets[idx].health = Health::Up;
                self.targets[idx].last_error.clear();
                lines
            }
            Err(e) => {
                *self.stats.scrape_failures.entry(job).or_default() += 1;
                self.targets[idx].health = Health::Down;
                self.targets[idx].last_error = e;
                ValidBody::default()
            }
        };
        let count = lines.samples.len();
        let mut seen = HashSet::with_capacity(count);
        let mut cache = std::mem::take(&mut self.targets[idx].cache);
        let mut fresh = HashMap::with_capacity(cache.len());
        for &(start, split, end, value) in &lines.samples {
            let (series_text, line) = (&lines.body[start..split], &lines.body[start..end]);
            let known = cache.remove(series_text);
            let id = match known {
                Some(None) => None,
                Some(Some(id)) if self.storage.append_id(id, ts, value) => Some(id),
                _ => match crate::scrape::parse_line(line) {
                    Ok((mut labels, _)) => {
                        attach_target_labels(&mut labels, target);
                        self.needed(&labels)
                            .then(|| self.storage.append(&labels, ts, value))
                    }
                    Err(_) => continue,
                },
            };
            match id {
                Some(id) => {
                    seen.insert(id);
                    self.stats.samples_ingested += 1;
                }
                None => self.stats.samples_not_needed += 1,
            }
            fresh.insert(series_text.to_string(), id);
        }
        drop(cache);
        self.targets[idx].cache = fresh;
        let state = &mut self.targets[idx];
        for gone in state.last_series.difference(&seen) {
            self.storage.mark_stale(*gone, ts);
        }
        state.last_series = seen;
        state.last_scrape = Some(ts);
        state.last_duration = outcome.duration.as_secs_f64();
        let up = if state.health == Health::Up { 1.0 } else { 0.0 };
        let report = report_series(target);
        let values = [up, state.last_duration, count as f64];
        for (labels, v) in report.iter().zip(values) {
            self.storage.append(labels, ts, v);
        }
    }
}

/// A scraped body whose every sample line parsed: (line start, end of the
/// series text, line end, value) per sample.
#[derive(Debug, Default)]
struct ValidBody {
    body: String,
    samples: Vec<(usize, usize, usize, f64)>,
}

/// Checks every line (a bad line fails the whole scrape, as in Prometheus);
/// lines whose series text is cached were fully parsed before and only need
/// their value read.
fn validate_body(
    cache: &HashMap<String, Option<SeriesId>>,
    body: String,
) -> Result<ValidBody, String> {
    let mut samples = Vec::new();
    let base = body.as_ptr() as usize;
    for (n, raw) in body.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        let (series, value) =
            crate::scrape::split_line(line).ok_or_else(|| bad("missing value".into()))?;
        let value = crate::promql::functions::parse_go_float(value)
            .ok_or_else(|| bad("invalid value".into()))?;
        if !cache.contains_key(series) {
            crate::scrape::parse_line(line).map_err(bad)?;
        }
        let start = line.as_ptr() as usize - base;
        samples.push((start, start + series.len(), start + line.len(), value));
    }
    Ok(ValidBody { body, samples })
}

/// `up`, `scrape_duration_seconds`, `scrape_samples_scraped` for a target.
pub(crate) fn report_series(target: &Target) -> [Labels; 3] {
    ["up", "scrape_duration_seconds", "scrape_samples_scraped"].map(|name| {
        let mut l = target.labels.clone();
        l.insert(METRIC_NAME.into(), name.into());
        l
    })
}

/// Adds the target's labels; on conflict the scraped value is kept as
/// `exported_<name>` unless `honor_labels` is set, as Prometheus does.
fn attach_target_labels(labels: &mut Labels, target: &Target) {
    for (k, v) in &target.labels {
        if let Some(existing) = labels.get(k) {
            if target.honor_labels {
                continue;
            }
            let existing = existing.clone();
            labels.insert(format!("exported_{k}"), existing);
        }
        labels.insert(k.clone(), v.clone());
    }
}
