//! The delivery queue: FIFO per integration, persisted with the state,
//! bounded per integration. Past the bound the two oldest waiting entries
//! are folded into one summary, so nothing is dropped and the queue stays
//! small while a destination is down.

use crate::delivery::{Outcome, PostedMessage};
use crate::notification::{Content, DeadLetter, Queued, SentRecord, SlackMessageRef};
use crate::state::State;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::time::Duration;

/// Retry policy for transient failures: exponential from `initial`, capped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt number `attempts + 1` (attempts ≥ 1).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Appends to the queue and folds the oldest entries of that integration
/// while it holds more than `bound`. Returns how many entries were folded.
pub(crate) fn enqueue(
    state: &mut State,
    entry: Queued,
    bound: usize,
    in_flight: &HashSet<u64>,
) -> usize {
    let integration = entry.integration.clone();
    state.queue.push_back(entry);
    let mut folded = 0;
    loop {
        let positions: Vec<usize> = state
            .queue
            .iter()
            .enumerate()
            .filter(|(_, q)| q.integration == integration)
            .map(|(i, _)| i)
            .collect();
        if positions.len() <= bound.max(1) {
            return folded;
        }
        let foldable: Vec<usize> = positions
            .into_iter()
            .filter(|i| !in_flight.contains(&state.queue[*i].id))
            .take(2)
            .collect();
        let [older, newer] = foldable[..] else {
            return folded;
        };
        let newer_entry = state.queue.remove(newer).expect("index from enumerate");
        let older_entry = &mut state.queue[older];
        let content = std::mem::replace(
            &mut older_entry.content,
            Content::Summary(Default::default()),
        );
        older_entry.content = content.fold(
            older_entry.queued_at,
            newer_entry.content,
            newer_entry.queued_at,
        );
        folded += 1;
    }
}

/// The first entry of each integration, if it is due and not being sent.
pub(crate) fn due_heads(
    state: &State,
    now: DateTime<Utc>,
    in_flight: &HashSet<u64>,
) -> Vec<Queued> {
    let mut seen = HashSet::new();
    let mut heads = Vec::new();
    for q in &state.queue {
        if !seen.insert(q.integration.as_str()) {
            continue;
        }
        if q.not_before <= now && !in_flight.contains(&q.id) {
            heads.push(q.clone());
        }
    }
    heads
}

/// Earliest `not_before` among the integration heads.
pub(crate) fn next_due(state: &State) -> Option<DateTime<Utc>> {
    let mut seen = HashSet::new();
    state
        .queue
        .iter()
        .filter(|q| seen.insert(q.integration.as_str()))
        .map(|q| q.not_before)
        .min()
}

/// Limits for the kept logs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogLimits {
    pub sent: usize,
    pub dead: usize,
}

/// The key of a group's Slack message: `group key|integration key`.
pub(crate) fn slack_message_key(q: &Queued) -> Option<String> {
    Some(format!("{}|{}", q.content.group_key()?, q.integration))
}

/// Keeps where a firing group's message was posted; a resolved group's
/// message is done with (it was updated, or a new one posted).
fn remember_slack_message(
    state: &mut State,
    q: &Queued,
    posted: Option<&PostedMessage>,
    now: DateTime<Utc>,
) {
    let Some(key) = slack_message_key(q) else {
        return;
    };
    match (q.content.status(), posted) {
        ("firing", Some(p)) => {
            let message = SlackMessageRef {
                channel: p.channel.clone(),
                ts: p.ts.clone(),
                posted_at: now,
            };
            state.slack_messages.insert(key, message);
        }
        ("resolved", _) => {
            state.slack_messages.remove(&key);
        }
        _ => {}
    }
}

/// Records the outcome of sending entry `id`.
pub(crate) fn apply_outcome(
    state: &mut State,
    id: u64,
    outcome: &Outcome,
    now: DateTime<Utc>,
    backoff: Backoff,
    limits: LogLimits,
) {
    let Some(pos) = state.queue.iter().position(|q| q.id == id) else {
        return;
    };
    match outcome {
        Outcome::Delivered {
            content_hash,
            posted,
            updated_in_place,
        } => {
            let q = state.queue.remove(pos).expect("position found");
            remember_slack_message(state, &q, posted.as_ref(), now);
            state.sent.push_back(SentRecord {
                id: q.id,
                integration: q.integration,
                receiver: q.receiver,
                group_key: q.content.group_key().map(str::to_string),
                status: q.content.status().to_string(),
                alerts: q.content.alert_count(),
                content_hash: content_hash.clone(),
                queued_at: q.queued_at,
                sent_at: now,
                attempts: q.attempts,
                updated_in_place: *updated_in_place,
            });
            while state.sent.len() > limits.sent {
                state.sent.pop_front();
            }
        }
        Outcome::RateLimited(after) => {
            let q = &mut state.queue[pos];
            q.attempts += 1;
            let wait = after.unwrap_or_else(|| backoff.delay(q.attempts));
            q.not_before = now + chrono::Duration::from_std(wait).unwrap_or_default();
            q.last_error = Some(format!("rate limited, retry after {}s", wait.as_secs_f64()));
        }
        Outcome::Transient(error) => {
            let q = &mut state.queue[pos];
            q.attempts += 1;
            q.not_before =
                now + chrono::Duration::from_std(backoff.delay(q.attempts)).unwrap_or_default();
            q.last_error = Some(error.clone());
        }
        Outcome::Permanent(error) => {
            let mut q = state.queue.remove(pos).expect("position found");
            q.attempts += 1;
            q.last_error = Some(error.clone());
            state.dead_letters.push_back(DeadLetter {
                notification: q,
                error: error.clone(),
                failed_at: now,
            });
            while state.dead_letters.len() > limits.dead {
                state.dead_letters.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{Notification, Summary};

    fn entry(id: u64, integration: &str, name: &str, now: DateTime<Utc>) -> Queued {
        let mut labels = crate::alert::LabelSet::new();
        labels.insert("alertname".into(), name.into());
        Queued {
            id,
            integration: integration.into(),
            receiver: "r".into(),
            content: Content::Group(Notification {
                receiver: "r".into(),
                group_key: format!("g{id}"),
                group_labels: labels.clone(),
                alerts: vec![crate::notification::NotifiedAlert {
                    alert: crate::alert::Alert {
                        labels,
                        ..Default::default()
                    },
                    fingerprint: id,
                    resolved: false,
                }],
            }),
            queued_at: now,
            attempts: 0,
            not_before: now,
            last_error: None,
        }
    }

    #[test]
    fn overflow_folds_oldest_into_one_summary_per_integration() {
        let now = Utc::now();
        let mut state = State::default();
        let none = HashSet::new();
        enqueue(&mut state, entry(100, "other", "X", now), 3, &none);
        for i in 1..=6 {
            enqueue(
                &mut state,
                entry(i, "slack", &format!("A{i}"), now),
                3,
                &none,
            );
        }
        let slack: Vec<&Queued> = state
            .queue
            .iter()
            .filter(|q| q.integration == "slack")
            .collect();
        assert_eq!(slack.len(), 3);
        let Content::Summary(Summary { lines, alerts }) = &slack[0].content else {
            panic!("oldest entry should be a summary: {:?}", slack[0].content)
        };
        assert_eq!(lines.len(), 4, "four notifications folded: {lines:?}");
        assert_eq!(*alerts, 4);
        assert!(lines[0].contains("A1") && lines[3].contains("A4"));
        assert_eq!(
            state
                .queue
                .iter()
                .filter(|q| q.integration == "other")
                .count(),
            1
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    }
}
