//! Everything that must survive a restart, and its atomic persistence
//! (write a temporary file, fsync it, rename over the old one, fsync the
//! directory): alerts, aggregation groups, the notification log used for
//! de-duplication, silences, the delivery queue, dead letters, the log
//! of what was sent and where each group's Slack message is.

use crate::alert::{Fingerprint, LabelSet, StoredAlert};
use crate::notification::{DeadLetter, Queued, SentRecord, SlackMessageRef};
use crate::silence::Silence;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// Format version of the state file.
pub const STATE_VERSION: u32 = 1;

/// An aggregation group: alerts sharing a route and group labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Group {
    pub route_id: String,
    pub receiver: String,
    pub labels: LabelSet,
    pub alerts: BTreeSet<Fingerprint>,
    /// When the group is next flushed.
    pub next_flush: DateTime<Utc>,
    /// Flushed at least once (later flushes follow group_interval).
    pub has_flushed: bool,
}

/// What was last notified for one group on one integration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NflogEntry {
    pub firing: BTreeSet<Fingerprint>,
    pub resolved: BTreeSet<Fingerprint>,
    pub timestamp: DateTime<Utc>,
}

/// The persisted state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    pub version: u32,
    pub alerts: BTreeMap<Fingerprint, StoredAlert>,
    pub groups: BTreeMap<String, Group>,
    /// Keyed by `group key|integration key`.
    pub nflog: BTreeMap<String, NflogEntry>,
    pub silences: Vec<Silence>,
    pub queue: VecDeque<Queued>,
    pub dead_letters: VecDeque<DeadLetter>,
    pub sent: VecDeque<SentRecord>,
    pub next_id: u64,
    /// The last `chat.postMessage` message of each group, keyed like the
    /// notification log (`group key|integration key`).
    #[serde(default)]
    pub slack_messages: BTreeMap<String, SlackMessageRef>,
}

/// A state file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// I/O on the state file or its directory.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file exists but is not a state file this version understands.
    #[error("state file {path}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl State {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    version: STATE_VERSION,
                    ..State::default()
                })
            }
            Err(source) => {
                return Err(StateError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let state: State = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(StateError::Corrupt {
                path: path.display().to_string(),
                message: format!("version {} (expected {STATE_VERSION})", state.version),
            });
        }
        Ok(state)
    }

    /// Serialises for [`write_atomic`].
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("state serialises (string keys, no floats as keys)")
    }

    /// Next queue / silence id.
    pub fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Replaces `path` with `bytes` so a crash leaves either the old or the new
/// file, never a torn one; the file is readable by its owner only (0600,
/// its directory created 0700): silences and the notification log name
/// hosts and people.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    servekit::statefile::write_private(path, bytes).map_err(|source| StateError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/notifier.json");
        assert!(State::load(&path).unwrap().alerts.is_empty());
        let mut state = State::load(&path).unwrap();
        state.next_id = 41;
        assert_eq!(state.take_id(), 42);
        write_atomic(&path, &state.to_bytes()).unwrap();
        write_atomic(&path, &state.to_bytes()).unwrap();
        assert_eq!(State::load(&path).unwrap().next_id, 42);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "state file readable by its owner only");
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            State::load(&path),
            Err(StateError::Corrupt { .. })
        ));
    }
}
