//! Inhibition: a firing source alert mutes target alerts that agree with it
//! on the `equal` labels (a label missing on both sides counts as equal).

use crate::alert::{Fingerprint, LabelSet, StoredAlert};
use crate::config::InhibitRule;
use crate::matcher::all_match;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Whether `target` is inhibited by any firing alert under any rule.
pub(crate) fn inhibited(
    rules: &[InhibitRule],
    alerts: &BTreeMap<Fingerprint, StoredAlert>,
    target_fp: Fingerprint,
    target: &LabelSet,
    now: DateTime<Utc>,
) -> bool {
    rules.iter().any(|rule| {
        all_match(&rule.target_matchers, target)
            && alerts.iter().any(|(fp, source)| {
                *fp != target_fp
                    && !source.resolved_at(now)
                    && all_match(&rule.source_matchers, &source.alert.labels)
                    && rule
                        .equal
                        .iter()
                        .all(|l| source.alert.labels.get(l) == target.get(l))
            })
    })
}
