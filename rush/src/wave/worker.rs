//! The connection workers of a wave: the jobs they take, the requests they
//! send (pre-built where they repeat) and how they record the answers.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::{mpsc, Barrier};

use super::requests::{Job, Work};
use super::shared::{Decided, Shared, TicketRecord};
use crate::api::{enroll_reply, tickets_view, EnrollReply};
use crate::conn::Client;

/// One connection's worker: takes jobs until the queue closes.
pub(super) async fn work(
    shared: Arc<Shared>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Work>>>,
    opened: Arc<Barrier>,
) {
    let mut client = Client::new(shared.requests.endpoint.clone());
    client.open().await;
    opened.wait().await;
    loop {
        let next = queue.lock().await.recv().await;
        let Some(Work { job, permit }) = next else {
            return;
        };
        match job {
            Job::Enroll {
                request,
                student,
                course,
            } => send_one(&shared, &mut client, request, student, course).await,
            Job::Poll { idx } => poll_one(&shared, &mut client, idx).await,
        }
        // Given back only after the answer is recorded (and, for a poll,
        // its ticket re-scheduled): the poller's end test relies on it.
        drop(permit);
    }
}

async fn send_one(
    shared: &Shared,
    client: &mut Client,
    request: usize,
    student: usize,
    course: i64,
) {
    let sent = Instant::now();
    let req = shared.requests.enroll(student, course);
    let mut backoff = Duration::from_millis(100);
    let reply = loop {
        let reply = match client.send(&req).await {
            Ok((status, body)) => enroll_reply(status, &body),
            Err(e) => Err(e),
        };
        let Some(ride_out) = &shared.opts.ride_out else {
            break reply;
        };
        if !unavailable(&reply) || sent.elapsed() > RIDE_OUT_FOR {
            if let Ok(EnrollReply::Refused { status: 401, .. }) = reply {
                ride_out.unauthenticated.fetch_add(1, SeqCst);
            }
            ride_out.answered.fetch_add(1, SeqCst);
            break reply;
        }
        ride_out.retries.fetch_add(1, SeqCst);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    };
    match reply {
        Ok(EnrollReply::Ticket { ticket, eta_ms }) => {
            let acked = Instant::now();
            let (idx, decided) = {
                let mut tickets = shared.tickets.lock().unwrap();
                let idx = tickets.add(TicketRecord {
                    request,
                    student,
                    ticket,
                    sent,
                    acked,
                    eta_ms,
                    decided: None,
                });
                (idx, tickets.records[idx].decided.is_some())
            };
            shared
                .by_student
                .lock()
                .unwrap()
                .entry(student)
                .or_default()
                .push(idx);
            if decided {
                // Its event came before this answer was read.
                shared.decided.fetch_add(1, SeqCst);
                let record = shared.tickets.lock().unwrap().records[idx].clone();
                shared.observe(&record);
            } else {
                shared.schedule_first(idx, Some(eta_ms));
            }
            // Last: "every acknowledged ticket decided" must never be seen
            // while one is half recorded.
            shared.acked.fetch_add(1, SeqCst);
        }
        Ok(EnrollReply::Refused { status, code }) => {
            if status == 409 {
                shared.tell(student, course, "refused", Some(&code));
            }
            *shared
                .refused
                .lock()
                .unwrap()
                .entry(format!("{status} {code}"))
                .or_default() += 1;
        }
        Err(err) => {
            shared.errors.fetch_add(1, SeqCst);
            shared
                .error_example
                .lock()
                .unwrap()
                .get_or_insert_with(|| format!("{err:#}"));
        }
    }
}

/// How long a student riding out a fault keeps trying one enroll.
const RIDE_OUT_FOR: Duration = Duration::from_secs(60);

/// An enroll answer a student riding out a fault tries again after: the
/// server or its Redis unavailable, a rate limit, or no answer.
fn unavailable(reply: &Result<EnrollReply>) -> bool {
    match reply {
        Ok(EnrollReply::Refused { status, .. }) => matches!(status, 429 | 502 | 503 | 504),
        Ok(EnrollReply::Ticket { .. }) => false,
        Err(_) => true,
    }
}

/// Polls ticket `idx` together with every other undecided ticket of its
/// student (one request, as a page listing a student's pending requests
/// would); records the decisions it sees and re-schedules `idx` if it is
/// still queued. The student's other tickets keep their own schedule.
async fn poll_one(shared: &Shared, client: &mut Client, idx: usize) {
    let (group, req) = {
        let tickets = &shared.tickets.lock().unwrap().records;
        let student = tickets[idx].student;
        let mut group = vec![idx];
        if let Some(mine) = shared.by_student.lock().unwrap().get(&student) {
            group.extend(
                mine.iter()
                    .copied()
                    .filter(|&i| i != idx && tickets[i].decided.is_none()),
            );
        }
        let ids: Vec<&str> = group.iter().map(|&i| tickets[i].ticket.as_str()).collect();
        (group, shared.requests.tickets(student, &ids))
    };
    shared.polls.fetch_add(1, SeqCst);
    let view = match req {
        Ok(req) => match client.send(&req).await {
            Ok((status, body)) => {
                if let (401, Some(r)) = (status, &shared.opts.ride_out) {
                    r.unauthenticated.fetch_add(1, SeqCst);
                }
                tickets_view(status, &body)
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let Ok(view) = view else {
        shared.poll_errors.fetch_add(1, SeqCst);
        shared.schedule(idx, Some(200));
        return;
    };
    let at = Instant::now();
    let mut own_wait = None;
    let mut seen_own = false;
    let mut learnt = Vec::new();
    {
        let tickets = &mut shared.tickets.lock().unwrap().records;
        for v in view.tickets {
            let Some(&i) = group.iter().find(|&&i| tickets[i].ticket == v.ticket) else {
                continue;
            };
            if i == idx {
                seen_own = true;
            }
            if v.status == "queued" {
                if i == idx {
                    own_wait = Some(v.wait_ms());
                }
            } else if tickets[i].decided.is_none() {
                tickets[i].decided = Some(Decided {
                    at,
                    status: v.status,
                    reason: v.reason,
                });
                shared.decided.fetch_add(1, SeqCst);
                learnt.push(tickets[i].clone());
            }
        }
    }
    for record in &learnt {
        shared.observe(record);
    }
    if !seen_own && shared.opts.ride_out.is_some() && view.unknown.contains(&view_id(shared, idx)) {
        unknown_twice(shared, idx, at);
    } else if !seen_own {
        // Answered as unknown (or missing from the answer): an error, as a
        // 404 from the single-ticket read was.
        shared.poll_errors.fetch_add(1, SeqCst);
        shared.schedule(idx, Some(200));
    } else if let Some(wait) = own_wait {
        shared.schedule(idx, Some(wait));
    }
}

/// Ticket `idx`'s id.
fn view_id(shared: &Shared, idx: usize) -> String {
    shared.tickets.lock().unwrap().records[idx].ticket.clone()
}

/// Riding out a fault, ticket `idx` was answered unknown at `at`: polled
/// again a second later the first time, final (`unknown`) the second.
fn unknown_twice(shared: &Shared, idx: usize, at: Instant) {
    let first = *shared
        .unknown_since
        .lock()
        .unwrap()
        .entry(idx)
        .or_insert(at);
    if at - first < Duration::from_secs(1) {
        shared.due_in(idx, Duration::from_secs(1));
        return;
    }
    let record = {
        let mut book = shared.tickets.lock().unwrap();
        let record = &mut book.records[idx];
        if record.decided.is_some() {
            return;
        }
        record.decided = Some(Decided {
            at,
            status: "unknown".into(),
            reason: None,
        });
        record.clone()
    };
    shared.decided.fetch_add(1, SeqCst);
    shared.observe(&record);
}
