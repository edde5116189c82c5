//! `--scenario waitlist`: what students do while the rush runs besides
//! enrolling — a share of those told a course is full join its waitlist,
//! and a share of those enrolled give one course back at once, so cancels
//! (and the promotions they cause) race the rush's enrolls.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use crate::api::Api;
use crate::wave::Told;

/// Joins and cancels in flight at once.
const CONCURRENCY: usize = 16;

/// How many of the students act.
#[derive(Debug, Clone, Copy)]
pub struct ChurnParams {
    /// Share of `course_full` answers followed by a waitlist join.
    pub waitlist_share: f64,
    /// Share of students who cancel their first enrolled course.
    pub cancel_share: f64,
    pub seed: u64,
}

/// What the students did and what they were answered.
#[derive(Debug, Default, Clone)]
pub struct ChurnOutcome {
    /// `(student index, course id)` answered 201 to their waitlist join.
    pub joined: Vec<(usize, i64)>,
    /// `(student index, course id)` answered 204 to their cancel.
    pub cancelled: Vec<(usize, i64)>,
    /// Other answers, by `"join|cancel <status> <code>"`.
    pub refused: BTreeMap<String, usize>,
    /// Requests that got no answer.
    pub errors: usize,
}

enum Act {
    Join,
    Cancel,
}

/// Acts on what the wave tells through `told` until `ended` (sent once the
/// wave is over) and what was told before it; returns once every request
/// is answered.
pub async fn run(
    api: Api,
    cookies: Arc<Vec<String>>,
    params: ChurnParams,
    mut told: mpsc::UnboundedReceiver<Told>,
    mut ended: oneshot::Receiver<()>,
) -> ChurnOutcome {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut cancelling = HashSet::new();
    let mut over = false;
    loop {
        let t = if over {
            match told.try_recv() {
                Ok(t) => t,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                biased;
                t = told.recv() => match t {
                    Some(t) => t,
                    None => break,
                },
                _ = &mut ended => {
                    over = true;
                    continue;
                }
            }
        };
        let act = if t.enrolled {
            if !picked(params.seed, 1, t.student, t.course, params.cancel_share)
                || !cancelling.insert(t.student)
            {
                continue;
            }
            Act::Cancel
        } else if picked(params.seed, 2, t.student, t.course, params.waitlist_share) {
            Act::Join
        } else {
            continue;
        };
        let (api, cookies, permits) = (api.clone(), cookies.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            let cookie = &cookies[t.student];
            let answer = match act {
                Act::Join => api.join_waitlist(cookie, t.course).await,
                Act::Cancel => api.cancel(cookie, t.course).await,
            };
            (act, t, answer)
        });
    }
    let mut out = ChurnOutcome::default();
    while let Some(done) = tasks.join_next().await {
        let Ok((act, t, answer)) = done else {
            out.errors += 1;
            continue;
        };
        let name = match act {
            Act::Join => "join",
            Act::Cancel => "cancel",
        };
        match (act, answer) {
            (Act::Join, Ok((201, _))) => out.joined.push((t.student, t.course)),
            (Act::Cancel, Ok((204, _))) => out.cancelled.push((t.student, t.course)),
            (_, Ok((status, code))) => {
                *out.refused
                    .entry(format!("{name} {status} {code}"))
                    .or_default() += 1
            }
            (_, Err(_)) => out.errors += 1,
        }
    }
    out
}

/// Whether `student`'s answer for `course` is one of the `share` acted on
/// (a fixed pick per seed, `salt` telling joins from cancels).
pub fn picked(seed: u64, salt: u64, student: usize, course: i64, share: f64) -> bool {
    let mut x = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        ^ (student as u64).wrapping_mul(0x94D0_49BB_1331_11EB)
        ^ (course as u64).rotate_left(32);
    // splitmix64's finaliser.
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64 <= share && share > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_about_the_share_and_none_or_all_at_the_ends() {
        let n = (0..10_000).filter(|&s| picked(7, 1, s, 42, 0.3)).count();
        assert!((2_700..3_300).contains(&n), "{n}");
        assert!(!(0..1000).any(|s| picked(7, 1, s, 42, 0.0)));
        assert!((0..1000).all(|s| picked(7, 1, s, 42, 1.0)));
    }
}
