//! One wave of enrollment requests: fire them with bounded concurrency,
//! poll every acknowledged ticket until it is decided, and sample the
//! server's `/metrics` meanwhile.
//!
//! Enrolls and polls are sent by one worker task per persistent HTTP/1.1
//! connection ([`crate::conn`]), which takes the next job from a shared
//! queue, so the load generator spends little CPU per request (it shares
//! the machine with the system under test).
//!
//! A poll reads all of a ticket's student's undecided tickets in one request
//! (`GET /api/v1/enrollments/tickets?ids=...`); a ticket seen decided that
//! way is not polled again.
//!
//! Decisions are followed as a student's page would: each student holds
//! one ticket event stream (`GET /api/v1/enrollments/events`, opened before
//! the clock starts, `wave/events.rs`) and is told each decision as it is
//! made. A ticket that has no decision `poll_fallback` after its ETA (an
//! event lost, e.g. while an instance resubscribed), and every pending
//! ticket of a stream told to `resync`, is polled. Time to decision is then
//! the send time to the event's arrival.
//!
//! With `events` off (`--poll-only`) tickets are only polled, guided by the
//! server's own ETA: a ticket is next looked at after half its `eta_ms`,
//! clamped to `[poll_min, poll_max]`, so a ticket deep in a long queue is not
//! polled over and over while one near the head is seen decided soon after
//! it is. Time to decision is then measured to the first poll that saw it
//! decided, an upper bound, off by at most one poll interval.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::ProgressBar;
use tokio::sync::{mpsc, Barrier, Semaphore};

use crate::api::Api;
use crate::conn::Endpoint;

/// The connection workers (`wave/worker.rs`).
mod requests;
mod shared;
mod worker;
use requests::{Job, Requests, Work};
pub use shared::{Decided, RideOut, Sample, TicketRecord, Told, WaveOptions, WaveOutcome};
use shared::{Shared, TicketBook};
use worker::work;

/// The students' event streams (`wave/events.rs`).
mod events;

/// Fires `requests` (`(student index, course id)`) with the students'
/// session `cookies` and follows every ticket to its decision.
///
/// The enroll requests and ticket polls go over a fixed set of
/// `concurrency + poll_concurrency` keep-alive connections ([`crate::conn`]),
/// all opened before the clock starts, one worker task each, taking the
/// next job from one queue; at most `concurrency` enrolls and
/// `poll_concurrency` polls are in flight.
///
/// `at_start` runs once everything is open, just before the clock starts
/// (to take "before" readings); its output is returned with the outcome.
pub async fn run_wave<T>(
    api: &Api,
    cookies: Arc<Vec<String>>,
    requests: &[(usize, i64)],
    opts: &WaveOptions,
    bar: &ProgressBar,
    at_start: impl std::future::Future<Output = T>,
) -> Result<(WaveOutcome, T)> {
    let endpoint = Endpoint::new(api.base()).await?;
    let shared = Arc::new(Shared {
        api: api.clone(),
        requests: Requests::new(endpoint, &cookies, requests)?,
        opts: opts.clone(),
        tickets: Mutex::new(TicketBook::default()),
        by_student: Mutex::new(HashMap::new()),
        due: Mutex::new(BinaryHeap::new()),
        unknown_since: Mutex::new(HashMap::new()),
        refused: Mutex::new(BTreeMap::new()),
        error_example: Mutex::new(None),
        errors: AtomicUsize::new(0),
        acked: AtomicUsize::new(0),
        decided: AtomicUsize::new(0),
        polls: AtomicUsize::new(0),
        poll_errors: AtomicUsize::new(0),
        events: AtomicUsize::new(0),
        firing_done: AtomicBool::new(false),
        polling_done: AtomicBool::new(false),
    });
    // Every student's page is open before registration opens.
    let streams = if opts.events {
        events::open_all(&shared, requests).await?
    } else {
        Vec::new()
    };
    let (jobs, queue) = mpsc::unbounded_channel();
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    let connections = opts.concurrency + opts.poll_concurrency;
    // Every connection is open before the clock starts, as with wrk: a burst
    // of connects would measure the server's accept backlog instead.
    let opened = Arc::new(Barrier::new(connections + 1));
    let workers: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(work(shared.clone(), queue.clone(), opened.clone())))
        .collect();
    opened.wait().await;
    let before = at_start.await;
    let started = Instant::now();
    let started_unix_ms = unix_ms_now();
    let sampler = tokio::spawn(sample_metrics(shared.clone(), started, bar.clone()));
    let poller = tokio::spawn(poll_until_decided(
        shared.clone(),
        jobs.clone(),
        started + opts.timeout,
    ));
    fire(requests, opts.concurrency, jobs).await;
    let fired = Instant::now();
    if opts.resume_admission {
        resume_admission(api).await;
    }
    shared.firing_done.store(true, SeqCst);
    poller.await.expect("the poller does not panic");
    shared.polling_done.store(true, SeqCst);
    // The queue is closed now (the poller held the last sender).
    for w in workers {
        w.await.expect("a connection worker does not panic");
    }
    let samples = sampler.await.expect("the sampler does not panic");
    for s in streams {
        s.abort();
    }
    bar.set_position(shared.finished() as u64);
    let tickets = std::mem::take(&mut shared.tickets.lock().unwrap().records);
    let refused = std::mem::take(&mut *shared.refused.lock().unwrap());
    let error_example = shared.error_example.lock().unwrap().take();
    let outcome = WaveOutcome {
        started,
        started_unix_ms,
        fired,
        tickets,
        refused,
        errors: shared.errors.load(SeqCst),
        error_example,
        polls: shared.polls.load(SeqCst),
        poll_errors: shared.poll_errors.load(SeqCst),
        events: shared.events.load(SeqCst),
        samples,
    };
    Ok((outcome, before))
}

/// Resumes paused admission; on failure the tickets stay queued until the
/// poll deadline (and count as undecided).
async fn resume_admission(api: &Api) {
    for attempt in 1..=3 {
        match api.set_admission_paused(false).await {
            Ok(()) => return,
            Err(e) => eprintln!("warning: resuming admission failed (attempt {attempt}): {e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Queues every enroll request, at most `concurrency` in flight; returns
/// once the last one is answered.
async fn fire(requests: &[(usize, i64)], concurrency: usize, jobs: mpsc::UnboundedSender<Work>) {
    let permits = Arc::new(Semaphore::new(concurrency));
    for (request, &(student, course)) in requests.iter().enumerate() {
        let permit = permits.clone().acquire_owned().await.expect("never closed");
        let job = Job::Enroll {
            request,
            student,
            course,
        };
        // The workers outlive the senders, so the queue is open.
        let _ = jobs.send(Work { job, permit });
    }
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _answered = permits.acquire_many(all).await.expect("never closed");
}

/// Polls due tickets until firing is over and every ticket is decided (or
/// the deadline passes).
async fn poll_until_decided(
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedSender<Work>,
    deadline: Instant,
) {
    let limit = shared.opts.poll_concurrency;
    let permits = Arc::new(Semaphore::new(limit));
    loop {
        let now = Instant::now();
        // Order matters: a poll re-schedules its ticket before it gives its
        // permit back, and firing schedules before it reports done.
        let fired = shared.firing_done.load(SeqCst);
        let idle = permits.available_permits() == limit;
        // Every ticket decided (by events, say) while fallback polls are
        // still waiting their turn: nothing is left to learn.
        let all_decided = shared.decided.load(SeqCst) == shared.acked.load(SeqCst);
        let (due, next) = {
            let tickets = shared.tickets.lock().unwrap();
            let mut heap = shared.due.lock().unwrap();
            let mut due = Vec::new();
            while let Some(Reverse((at, idx))) = heap.peek().copied() {
                if at > now || due.len() >= limit {
                    break;
                }
                heap.pop();
                // Seen decided by a poll of another of its student's tickets.
                if tickets.records[idx].decided.is_none() {
                    due.push(idx);
                }
            }
            (due, heap.peek().map(|Reverse((at, _))| *at))
        };
        if due.is_empty() {
            if (fired && idle && (next.is_none() || all_decided)) || now > deadline {
                return;
            }
            let wait = next.map_or(Duration::from_millis(5), |at| at - now);
            tokio::time::sleep(wait.min(Duration::from_millis(5))).await;
            continue;
        }
        for idx in due {
            let permit = permits.clone().acquire_owned().await.expect("never closed");
            let _ = jobs.send(Work {
                job: Job::Poll { idx },
                permit,
            });
        }
    }
}

/// Samples `/metrics` every `sample_every` until polling is over; keeps the
/// progress bar current.
async fn sample_metrics(shared: Arc<Shared>, started: Instant, bar: ProgressBar) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(shared.opts.sample_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let last = shared.polling_done.load(SeqCst);
        let (queue_length, decisions_total) = shared
            .api
            .queue_and_decisions()
            .await
            .unwrap_or((f64::NAN, f64::NAN));
        let s = Sample {
            t_ms: started.elapsed().as_secs_f64() * 1e3,
            queue_length,
            decisions_total,
            acked: shared.acked.load(SeqCst),
            decided: shared.decided.load(SeqCst),
        };
        bar.set_position(shared.finished() as u64);
        bar.set_message(format!(
            "acked {} · decided {} · server queue {}",
            s.acked, s.decided, s.queue_length
        ));
        samples.push(s);
        if last {
            return samples;
        }
    }
}

/// The wall clock in Unix milliseconds.
fn unix_ms_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ticket: &str) -> TicketRecord {
        let now = Instant::now();
        TicketRecord {
            request: 0,
            student: 0,
            ticket: ticket.into(),
            sent: now,
            acked: now,
            eta_ms: 0,
            decided: None,
        }
    }

    fn decided(status: &str) -> Decided {
        Decided {
            at: Instant::now(),
            status: status.into(),
            reason: None,
        }
    }

    #[test]
    fn an_event_before_the_ticket_is_kept_for_it_and_only_the_first_counts() {
        let mut book = TicketBook::default();
        // The event outran the 202 it belongs to.
        assert!(!book.decide("1-1".into(), decided("enrolled")));
        let i = book.add(record("1-1"));
        assert_eq!(book.records[i].decided.as_ref().unwrap().status, "enrolled");
        assert!(book.early.is_empty());

        let j = book.add(record("1-2"));
        assert!(book.records[j].decided.is_none());
        assert!(book.decide("1-2".into(), decided("rejected")));
        // A second event for a decided ticket changes nothing and is not
        // counted again.
        assert!(!book.decide("1-2".into(), decided("enrolled")));
        assert_eq!(book.records[j].decided.as_ref().unwrap().status, "rejected");
    }
}
