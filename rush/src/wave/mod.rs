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
mod worker;
use worker::{work, Job, Requests, Work};

/// The students' event streams (`wave/events.rs`).
mod events;

/// How a wave is run.
#[derive(Debug, Clone)]
pub struct WaveOptions {
    pub concurrency: usize,
    pub poll_concurrency: usize,
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Follow decisions on one event stream per student (polling only what
    /// no event decided); off: poll only.
    pub events: bool,
    /// With events: poll a ticket still undecided this long after its ETA.
    pub poll_fallback: Duration,
    /// Give up polling this long after the wave started.
    pub timeout: Duration,
    /// Admission was paused for this wave: resume it once firing is over.
    pub resume_admission: bool,
    pub sample_every: Duration,
    /// Told each enrolled ticket and each `course_full` (a 409 or a
    /// rejected ticket) as the wave learns it (`--scenario waitlist`).
    pub observer: Option<mpsc::UnboundedSender<Told>>,
    /// Set while a fault is made during the wave (`--fault`): see [`RideOut`].
    pub ride_out: Option<Arc<RideOut>>,
}

/// How a wave rides out a fault (`--fault`), and what it counted. A
/// student whose enroll is answered 503, 502, 504 or 429, or not at all,
/// tries again (100 ms, doubling up to 1 s, for at most a minute); a ticket
/// answered unknown twice a second apart is final (`unknown`) — a decision
/// committed meanwhile would have shown.
#[derive(Debug, Default)]
pub struct RideOut {
    /// Enroll requests answered for good (the fault strikes at half).
    pub answered: AtomicUsize,
    /// Enroll requests sent again after such an answer.
    pub retries: AtomicUsize,
    /// Answers 401 to enrolls and ticket reads: students logged out.
    pub unauthenticated: AtomicUsize,
}

/// What a student learnt about one of their requests, for an observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    pub student: usize,
    pub course: i64,
    /// Enrolled; else refused or rejected `course_full`.
    pub enrolled: bool,
}

/// One acknowledged ticket.
#[derive(Debug, Clone)]
pub struct TicketRecord {
    /// Index of the request in the wave.
    pub request: usize,
    /// Index of the student (into the cookies).
    pub student: usize,
    pub ticket: String,
    pub sent: Instant,
    pub acked: Instant,
    /// The wait the 202 announced (`eta_ms`; `u64::MAX` while admission
    /// was paused).
    pub eta_ms: u64,
    pub decided: Option<Decided>,
}

/// The first decided state the tool learnt (from an event or a poll).
#[derive(Debug, Clone)]
pub struct Decided {
    pub at: Instant,
    pub status: String,
    pub reason: Option<String>,
}

/// One `/metrics` sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    /// Milliseconds since the wave started.
    pub t_ms: f64,
    /// `enroll_queue_length` summed over courses.
    pub queue_length: f64,
    /// `enroll_admission_decisions_total` summed (since the server started).
    pub decisions_total: f64,
    /// Tickets acknowledged / seen decided by the tool so far.
    pub acked: usize,
    pub decided: usize,
}

/// Everything a wave measured.
#[derive(Debug)]
pub struct WaveOutcome {
    pub started: Instant,
    /// `started` on the wall clock (Unix ms), to compare with the server's
    /// decision times.
    pub started_unix_ms: f64,
    /// When the last enroll request was answered.
    pub fired: Instant,
    pub tickets: Vec<TicketRecord>,
    /// Immediate refusals by error code (e.g. `course_full`).
    pub refused: BTreeMap<String, usize>,
    /// Requests that got no HTTP answer, and one example.
    pub errors: usize,
    pub error_example: Option<String>,
    pub polls: usize,
    pub poll_errors: usize,
    /// Ticket events received on the students' streams.
    pub events: usize,
    pub samples: Vec<Sample>,
}

impl WaveOutcome {
    /// `at` on the wall clock (Unix ms), placed through the wave's start:
    /// to compare with the decision times the server stamps.
    pub fn wall_ms(&self, at: Instant) -> f64 {
        self.started_unix_ms + (at - self.started).as_secs_f64() * 1e3
    }
}

/// The acknowledged tickets, and decisions whose event came before the
/// ticket's 202 was read.
#[derive(Default)]
struct TicketBook {
    records: Vec<TicketRecord>,
    by_id: HashMap<String, usize>,
    early: HashMap<String, Decided>,
}

impl TicketBook {
    /// Records a decision for `ticket` unless it has one; true if it was
    /// recorded for a known ticket.
    fn decide(&mut self, ticket: String, decided: Decided) -> bool {
        match self.by_id.get(&ticket) {
            Some(&i) if self.records[i].decided.is_none() => {
                self.records[i].decided = Some(decided);
                true
            }
            Some(_) => false,
            None => {
                self.early.entry(ticket).or_insert(decided);
                false
            }
        }
    }

    /// Adds an acknowledged ticket (decided already if its event came
    /// first); its index.
    fn add(&mut self, mut record: TicketRecord) -> usize {
        record.decided = self.early.remove(&record.ticket);
        let idx = self.records.len();
        self.by_id.insert(record.ticket.clone(), idx);
        self.records.push(record);
        idx
    }
}

struct Shared {
    api: Api,
    requests: Requests,
    opts: WaveOptions,
    tickets: Mutex<TicketBook>,
    /// Ticket indices per student, to poll a student's tickets together.
    by_student: Mutex<HashMap<usize, Vec<usize>>>,
    due: Mutex<BinaryHeap<Reverse<(Instant, usize)>>>,
    /// Riding out a fault: when each ticket was first answered unknown.
    unknown_since: Mutex<HashMap<usize, Instant>>,
    refused: Mutex<BTreeMap<String, usize>>,
    error_example: Mutex<Option<String>>,
    errors: AtomicUsize,
    acked: AtomicUsize,
    decided: AtomicUsize,
    polls: AtomicUsize,
    poll_errors: AtomicUsize,
    events: AtomicUsize,
    firing_done: AtomicBool,
    polling_done: AtomicBool,
}

impl Shared {
    /// When ticket `idx` is (next) polled: after half its ETA, clamped.
    fn schedule(&self, idx: usize, eta_ms: Option<u64>) {
        let wait = Duration::from_millis(eta_ms.unwrap_or(0) / 2)
            .clamp(self.opts.poll_min, self.opts.poll_max);
        self.due_in(idx, wait);
    }

    /// A newly acknowledged ticket: with events, polled only if its event
    /// has not come `poll_fallback` after its ETA (at most 10 s; none while
    /// admission is paused).
    fn schedule_first(&self, idx: usize, eta_ms: Option<u64>) {
        if self.opts.events {
            let eta = Duration::from_millis(eta_ms.unwrap_or(0).min(10_000));
            self.due_in(idx, eta + self.opts.poll_fallback);
        } else {
            self.schedule(idx, eta_ms);
        }
    }

    fn due_in(&self, idx: usize, wait: Duration) {
        self.due
            .lock()
            .unwrap()
            .push(Reverse((Instant::now() + wait, idx)));
    }

    /// A decision learnt for `ticket` (from its event).
    fn decided_by_event(&self, ticket: String, decided: Decided) {
        self.events.fetch_add(1, SeqCst);
        let told = {
            let mut book = self.tickets.lock().unwrap();
            let known = book.by_id.get(&ticket).copied();
            let recorded = book.decide(ticket, decided);
            known.filter(|_| recorded).map(|i| book.records[i].clone())
        };
        if let Some(record) = told {
            self.decided.fetch_add(1, SeqCst);
            self.observe(&record);
        }
    }

    /// Tells the observer, if any, of a decided ticket.
    fn observe(&self, record: &TicketRecord) {
        let Some(d) = &record.decided else { return };
        let course = record
            .ticket
            .split_once('-')
            .and_then(|(c, _)| c.parse().ok());
        if let Some(course) = course {
            self.tell(record.student, course, &d.status, d.reason.as_deref());
        }
    }

    /// Tells the observer, if any, that `student` was enrolled in `course`
    /// or found it full.
    fn tell(&self, student: usize, course: i64, status: &str, reason: Option<&str>) {
        let Some(tx) = &self.opts.observer else {
            return;
        };
        let enrolled = status == "enrolled";
        if enrolled || reason == Some("course_full") {
            let _ = tx.send(Told {
                student,
                course,
                enrolled,
            });
        }
    }

    /// Polls every undecided ticket of `student` now (its stream was told
    /// to resync).
    fn resync(&self, student: usize) {
        let tickets = self.tickets.lock().unwrap();
        if let Some(mine) = self.by_student.lock().unwrap().get(&student) {
            for &i in mine {
                if tickets.records[i].decided.is_none() {
                    self.due_in(i, Duration::ZERO);
                }
            }
        }
    }

    /// Requests answered for good: refused, failed or decided.
    fn finished(&self) -> usize {
        let refused: usize = self.refused.lock().unwrap().values().sum();
        refused + self.errors.load(SeqCst) + self.decided.load(SeqCst)
    }
}

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
