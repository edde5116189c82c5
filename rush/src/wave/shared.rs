//! What a wave's tasks share: its options, the tickets acknowledged and
//! their decisions, and the counters; and what it hands back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::requests::Requests;
use crate::api::Api;

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
pub(super) struct TicketBook {
    pub(super) records: Vec<TicketRecord>,
    pub(super) by_id: HashMap<String, usize>,
    pub(super) early: HashMap<String, Decided>,
}

impl TicketBook {
    /// Records a decision for `ticket` unless it has one; true if it was
    /// recorded for a known ticket.
    pub(super) fn decide(&mut self, ticket: String, decided: Decided) -> bool {
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
    pub(super) fn add(&mut self, mut record: TicketRecord) -> usize {
        record.decided = self.early.remove(&record.ticket);
        let idx = self.records.len();
        self.by_id.insert(record.ticket.clone(), idx);
        self.records.push(record);
        idx
    }
}

pub(super) struct Shared {
    pub(super) api: Api,
    pub(super) requests: Requests,
    pub(super) opts: WaveOptions,
    pub(super) tickets: Mutex<TicketBook>,
    /// Ticket indices per student, to poll a student's tickets together.
    pub(super) by_student: Mutex<HashMap<usize, Vec<usize>>>,
    pub(super) due: Mutex<BinaryHeap<Reverse<(Instant, usize)>>>,
    /// Riding out a fault: when each ticket was first answered unknown.
    pub(super) unknown_since: Mutex<HashMap<usize, Instant>>,
    pub(super) refused: Mutex<BTreeMap<String, usize>>,
    pub(super) error_example: Mutex<Option<String>>,
    pub(super) errors: AtomicUsize,
    pub(super) acked: AtomicUsize,
    pub(super) decided: AtomicUsize,
    pub(super) polls: AtomicUsize,
    pub(super) poll_errors: AtomicUsize,
    pub(super) events: AtomicUsize,
    pub(super) firing_done: AtomicBool,
    pub(super) polling_done: AtomicBool,
}

impl Shared {
    /// When ticket `idx` is (next) polled: after half its ETA, clamped.
    pub(super) fn schedule(&self, idx: usize, eta_ms: Option<u64>) {
        let wait = Duration::from_millis(eta_ms.unwrap_or(0) / 2)
            .clamp(self.opts.poll_min, self.opts.poll_max);
        self.due_in(idx, wait);
    }

    /// A newly acknowledged ticket: with events, polled only if its event
    /// has not come `poll_fallback` after its ETA (at most 10 s; none while
    /// admission is paused).
    pub(super) fn schedule_first(&self, idx: usize, eta_ms: Option<u64>) {
        if self.opts.events {
            let eta = Duration::from_millis(eta_ms.unwrap_or(0).min(10_000));
            self.due_in(idx, eta + self.opts.poll_fallback);
        } else {
            self.schedule(idx, eta_ms);
        }
    }

    pub(super) fn due_in(&self, idx: usize, wait: Duration) {
        self.due
            .lock()
            .unwrap()
            .push(Reverse((Instant::now() + wait, idx)));
    }

    /// A decision learnt for `ticket` (from its event).
    pub(super) fn decided_by_event(&self, ticket: String, decided: Decided) {
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
    pub(super) fn observe(&self, record: &TicketRecord) {
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
    pub(super) fn tell(&self, student: usize, course: i64, status: &str, reason: Option<&str>) {
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
    pub(super) fn resync(&self, student: usize) {
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
    pub(super) fn finished(&self) -> usize {
        let refused: usize = self.refused.lock().unwrap().values().sum();
        refused + self.errors.load(SeqCst) + self.decided.load(SeqCst)
    }
}
