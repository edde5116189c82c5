//! Inhibition: a firing source alert mutes target alerts that agree with it
//! on the `equal` labels (a label missing on both sides counts as equal; an
//! alert never inhibits itself).
//!
//! The firing sources are indexed once per flush round by their `equal`
//! label values, so checking a target is a hash lookup per rule rather than
//! a scan of every alert.

use crate::alert::{Fingerprint, LabelSet, StoredAlert};
use crate::config::InhibitRule;
use crate::matcher::all_match;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

type EqualValues = Vec<Option<String>>;

/// Firing sources per rule, keyed by their `equal` label values: the
/// first two of their fingerprints (enough to name a source other than
/// the target itself).
pub(crate) struct Inhibitor<'a> {
    rules: &'a [InhibitRule],
    sources: Vec<HashMap<EqualValues, Sources>>,
}

#[derive(Clone, Copy)]
struct Sources {
    first: Fingerprint,
    second: Option<Fingerprint>,
}

impl Sources {
    fn other_than(&self, fp: Fingerprint) -> Option<Fingerprint> {
        if self.first != fp {
            Some(self.first)
        } else {
            self.second
        }
    }
}

fn equal_values(rule: &InhibitRule, labels: &LabelSet) -> EqualValues {
    rule.equal.iter().map(|l| labels.get(l).cloned()).collect()
}

impl<'a> Inhibitor<'a> {
    /// Indexes the alerts firing at `now` that match each rule's sources.
    pub fn new(
        rules: &'a [InhibitRule],
        alerts: &BTreeMap<Fingerprint, StoredAlert>,
        now: DateTime<Utc>,
    ) -> Self {
        let sources = rules
            .iter()
            .map(|rule| {
                let mut index: HashMap<EqualValues, Sources> = HashMap::new();
                for (fp, a) in alerts {
                    if !a.resolved_at(now) && all_match(&rule.source_matchers, &a.alert.labels) {
                        index
                            .entry(equal_values(rule, &a.alert.labels))
                            .and_modify(|s| {
                                s.second.get_or_insert(*fp);
                            })
                            .or_insert(Sources {
                                first: *fp,
                                second: None,
                            });
                    }
                }
                index
            })
            .collect();
        Inhibitor { rules, sources }
    }

    /// Whether the alert `fp` with `labels` is muted by some other firing alert.
    pub fn inhibits(&self, fp: Fingerprint, labels: &LabelSet) -> bool {
        self.inhibited_by(fp, labels).is_some()
    }

    /// A firing alert (other than `fp` itself) that mutes `fp`, if any.
    pub fn inhibited_by(&self, fp: Fingerprint, labels: &LabelSet) -> Option<Fingerprint> {
        self.rules
            .iter()
            .zip(&self.sources)
            .filter(|(rule, _)| all_match(&rule.target_matchers, labels))
            .find_map(|(rule, index)| index.get(&equal_values(rule, labels))?.other_than(fp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::matcher::Matcher;

    fn stored(pairs: &[(&str, &str)]) -> (Fingerprint, StoredAlert) {
        let alert = Alert {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let now = Utc::now();
        (
            alert.fingerprint(),
            StoredAlert::from_received(alert, now, chrono::Duration::hours(1)),
        )
    }

    #[test]
    fn source_mutes_matching_targets_but_never_itself() {
        let rules = vec![InhibitRule {
            source_matchers: vec![Matcher::parse("alertname=Down").unwrap()],
            target_matchers: vec![Matcher::parse("severity=~\"warning|critical\"").unwrap()],
            equal: vec!["instance".into()],
        }];
        let down_a = stored(&[
            ("alertname", "Down"),
            ("instance", "a"),
            ("severity", "critical"),
        ]);
        let warn_a = stored(&[
            ("alertname", "Load"),
            ("instance", "a"),
            ("severity", "warning"),
        ]);
        let warn_b = stored(&[
            ("alertname", "Load"),
            ("instance", "b"),
            ("severity", "warning"),
        ]);
        let alerts: BTreeMap<_, _> = [down_a.clone(), warn_a.clone(), warn_b.clone()]
            .into_iter()
            .collect();
        let inhibitor = Inhibitor::new(&rules, &alerts, Utc::now());
        assert_eq!(
            inhibitor.inhibited_by(warn_a.0, &warn_a.1.alert.labels),
            Some(down_a.0)
        );
        assert!(!inhibitor.inhibits(warn_b.0, &warn_b.1.alert.labels));
        assert!(
            !inhibitor.inhibits(down_a.0, &down_a.1.alert.labels),
            "not by itself"
        );
    }
}
