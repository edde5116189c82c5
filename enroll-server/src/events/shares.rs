//! How the streams are told apart and shared out among the beats.

/// The shares the streams with a moved place are sent in, one per beat: a
/// line that moves as a whole makes every stream's place due at once, and
/// sending them all in one go would hold back the decisions written
/// meanwhile.
pub const SHARES: usize = 10;

/// A stream: its student and its id on this instance.
pub type StreamKey = (i64, u64);

/// The share of the streams `key` belongs to (ids are handed out in turn,
/// so streams opened together land in different shares).
pub fn share_of((_, id): StreamKey) -> usize {
    (id % SHARES as u64) as usize
}
