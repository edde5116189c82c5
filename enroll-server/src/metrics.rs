//! Prometheus metrics of one enroll-server process.
//!
//! Names follow `enroll_<what>_<unit>[_total]`; labels are low-cardinality
//! (route templates, not raw paths). The alert rules in `rules/enroll.yml`
//! and the Grafana dashboard depend on these names.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use servekit::http::ConnStats;

/// All metrics, registered in one registry; one pointer, cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<MetricSet>);

impl std::ops::Deref for Metrics {
    type Target = MetricSet;

    fn deref(&self) -> &MetricSet {
        &self.0
    }
}

/// The metrics themselves.
pub struct MetricSet {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub db_pool_connections: IntGaugeVec,
    pub db_up: IntGauge,
    pub redis_up: IntGauge,
    pub replica_lag: prometheus::GaugeVec,
    pub replica_healthy: IntGaugeVec,
    pub replica_fallbacks: IntCounterVec,
    pub queue_length: IntGaugeVec,
    pub tickets: IntCounterVec,
    pub decisions: IntCounterVec,
    pub batch_size: Histogram,
    pub enqueue_batch_size: Histogram,
    pub fair_use_refusals: IntCounterVec,
    pub commit_seconds: Histogram,
    pub transaction_courses: Histogram,
    pub batches_waiting: IntGauge,
    pub transaction_failures: IntCounter,
    pub lease_takeovers: IntCounter,
    pub admission_lease_lost: IntCounter,
    pub redis_rebuilds: IntCounter,
    pub session_lookups: IntCounterVec,
    pub known_full_refusals: IntCounter,
    pub admission_paused: IntGauge,
    pub admission_scans: IntCounter,
    pub admission_decisions_per_second: prometheus::GaugeVec,
    pub ticket_streams: IntGauge,
    pub ticket_events: IntCounter,
    pub ticket_position_events: IntCounter,
    pub ticket_streams_dropped: IntCounter,
    pub catalog_miss_reloads: IntCounter,
    /// What the HTTP accept loop saw; copied into the three below at each
    /// scrape.
    pub connections: Arc<ConnStats>,
    pub http_connections: IntGauge,
    pub http_connections_refused: IntCounter,
    pub http_accept_errors: IntCounter,
    /// Enrollment mail (registered whether mail is on or not, so rules and
    /// panels always find the series).
    pub mail: MailMetrics,
    pub registrar: RegistrarMetrics,
}

/// Metrics of the registrar's rules. The gauges are read from the database
/// (every few seconds), so every instance shows the same figures: take
/// `max` over instances, not `sum`.
#[derive(Clone)]
pub struct RegistrarMetrics {
    pub cart_items: IntGauge,
    pub cart_over_demanded: IntGauge,
    pub waitlisted: IntGauge,
    pub offers_open: IntGauge,
    pub seats_withheld: IntGauge,
    pub waitlist_moves: IntCounterVec,
}

impl RegistrarMetrics {
    fn register(r: &Registry) -> Self {
        let m = Self {
            cart_items: IntGauge::new("enroll_cart_items", "Courses in students' carts. Same on every instance.").unwrap(),
            cart_over_demanded: IntGauge::new("enroll_cart_over_demanded_courses", "Courses whose cart demand exceeds their capacity. Same on every instance.").unwrap(),
            waitlisted: IntGauge::new("enroll_waitlist_students", "Students on waitlists, all courses. Same on every instance.").unwrap(),
            offers_open: IntGauge::new("enroll_waitlist_offers_open", "Seats offered from waitlists and not yet accepted. Same on every instance.").unwrap(),
            seats_withheld: IntGauge::new("enroll_seats_withheld", "Seats given back and withheld from the queue until their random delay ends. Same on every instance.").unwrap(),
            waitlist_moves: IntCounterVec::new(
                Opts::new("enroll_waitlist_moves_total", "Waitlist heads moved by freed seats on this instance, by outcome (enrolled, offered, skipped)."),
                &["outcome"],
            )
            .unwrap(),
        };
        r.register(Box::new(m.cart_items.clone())).unwrap();
        r.register(Box::new(m.cart_over_demanded.clone())).unwrap();
        r.register(Box::new(m.waitlisted.clone())).unwrap();
        r.register(Box::new(m.offers_open.clone())).unwrap();
        r.register(Box::new(m.seats_withheld.clone())).unwrap();
        r.register(Box::new(m.waitlist_moves.clone())).unwrap();
        for outcome in ["enrolled", "offered", "skipped"] {
            m.waitlist_moves.with_label_values(&[outcome]);
        }
        m
    }
}

/// Metrics of enrollment mail. The backlog gauges are read from the
/// database, so every instance shows the same figures: take `max` over
/// instances, not `sum`.
#[derive(Clone)]
pub struct MailMetrics {
    pub queued: IntCounter,
    pub sent: IntCounter,
    pub retried: IntCounterVec,
    pub parked: IntCounter,
    pub oldest_unsent_age: Gauge,
    pub backlog: IntGaugeVec,
}

impl MailMetrics {
    fn register(r: &Registry) -> Self {
        let m = Self {
            queued: IntCounter::new("enroll_mail_queued_total", "Mails made on this instance from students' enrollment changes (one digest per student and window).").unwrap(),
            sent: IntCounter::new("enroll_mail_sent_total", "Mails this instance handed to the mail server.").unwrap(),
            retried: IntCounterVec::new(
                Opts::new("enroll_mail_retries_total", "Mails this instance will try again, by reason (transient: a 4xx reply; network: no answer, TLS or timeout)."),
                &["reason"],
            )
            .unwrap(),
            parked: IntCounter::new("enroll_mail_parked_total", "Mails this instance parked for an operator: refused for good (5xx) or out of attempts.").unwrap(),
            oldest_unsent_age: Gauge::new("enroll_mail_oldest_unsent_age_seconds", "Age of the oldest enrollment change whose mail is not sent yet (parked mail excluded); 0 when none waits or mail is off. Same on every instance.").unwrap(),
            backlog: IntGaugeVec::new(
                Opts::new("enroll_mail_backlog", "Mail waiting, by state (changes: not yet in a mail; pending: mails to send or retry; parked: waiting for an operator). Same on every instance."),
                &["state"],
            )
            .unwrap(),
        };
        r.register(Box::new(m.queued.clone())).unwrap();
        r.register(Box::new(m.sent.clone())).unwrap();
        r.register(Box::new(m.retried.clone())).unwrap();
        r.register(Box::new(m.parked.clone())).unwrap();
        r.register(Box::new(m.oldest_unsent_age.clone())).unwrap();
        r.register(Box::new(m.backlog.clone())).unwrap();
        for reason in ["transient", "network"] {
            m.retried.with_label_values(&[reason]);
        }
        for state in ["changes", "pending", "parked"] {
            m.backlog.with_label_values(&[state]);
        }
        m
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = MetricSet {
            http_requests: IntCounterVec::new(
                Opts::new("enroll_http_requests_total", "HTTP requests answered, by route template, method and status code."),
                &["route", "method", "status"],
            )
            .unwrap(),
            http_duration: HistogramVec::new(
                HistogramOpts::new("enroll_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.")
                    .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
                &["route", "method"],
            )
            .unwrap(),
            db_pool_connections: IntGaugeVec::new(
                Opts::new("enroll_db_pool_connections", "Connections in a database pool, by pool (primary or replica address) and state (idle, busy)."),
                &["pool", "state"],
            )
            .unwrap(),
            db_up: IntGauge::new("enroll_db_up", "1 when the last check reached the primary database.").unwrap(),
            redis_up: IntGauge::new("enroll_redis_up", "1 when the last check reached Redis.").unwrap(),
            replica_lag: prometheus::GaugeVec::new(
                Opts::new("enroll_replica_lag_seconds", "Replay lag of each replica behind the primary."),
                &["replica"],
            )
            .unwrap(),
            replica_healthy: IntGaugeVec::new(
                Opts::new("enroll_replica_healthy", "1 when a replica is reachable and within the lag bound, so it serves reads."),
                &["replica"],
            )
            .unwrap(),
            replica_fallbacks: IntCounterVec::new(
                Opts::new("enroll_replica_fallbacks_total", "Reads meant for a replica that went to the primary, by reason (no_healthy_replica, replica_error)."),
                &["reason"],
            )
            .unwrap(),
            queue_length: IntGaugeVec::new(
                Opts::new("enroll_queue_length", "Tickets waiting in a course's queue."),
                &["course"],
            )
            .unwrap(),
            tickets: IntCounterVec::new(
                Opts::new("enroll_tickets_total", "Enrollment requests answered, by outcome (queued, duplicate_retry, refused_full, refused_enrolled, refused_closed)."),
                &["outcome"],
            )
            .unwrap(),
            decisions: IntCounterVec::new(
                Opts::new("enroll_admission_decisions_total", "Tickets decided by admission, by outcome (enrolled, rejected) and reason."),
                &["outcome", "reason"],
            )
            .unwrap(),
            batch_size: Histogram::with_opts(
                HistogramOpts::new("enroll_admission_batch_size", "Tickets decided per admission transaction.")
                    .buckets(vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0]),
            )
            .unwrap(),
            enqueue_batch_size: Histogram::with_opts(
                HistogramOpts::new("enroll_enqueue_batch_size", "Script calls of request handlers (enqueues, fair-use checks) that went to Redis in one pipeline.")
                    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )
            .unwrap(),
            fair_use_refusals: IntCounterVec::new(
                Opts::new("enroll_fair_use_refusals_total", "Requests turned away by a fair-use limit: 429 rate_limited (enroll, ticket_reads, event_streams, logins_per_address, requests_per_address) or 409 too_many_open_tickets (open_tickets)."),
                &["limit"],
            )
            .unwrap(),
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new("enroll_admission_commit_seconds", "Duration of one admission transaction, from BEGIN to COMMIT.")
                    .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            )
            .unwrap(),
            transaction_courses: Histogram::with_opts(
                HistogramOpts::new("enroll_admission_transaction_courses", "Courses whose batches one admission transaction decided together.")
                    .buckets(vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0]),
            )
            .unwrap(),
            transaction_failures: IntCounter::new("enroll_admission_transaction_failures_total", "Admission transactions that failed and rolled back; their batches are retried (a shared transaction's one by one).").unwrap(),
            batches_waiting: IntGauge::new("enroll_admission_batches_waiting", "Course batches waiting for an admission transaction to take them.").unwrap(),
            admission_decisions_per_second: prometheus::GaugeVec::new(
                Opts::new("enroll_admission_decisions_per_second", "Measured decisions per second while a course's queue drains (0 when idle)."),
                &["course"],
            )
            .unwrap(),
            session_lookups: IntCounterVec::new(
                Opts::new("enroll_session_lookups_total", "Session lookups of logged-in requests, by where they were answered (cache, redis)."),
                &["source"],
            )
            .unwrap(),
            known_full_refusals: IntCounter::new("enroll_known_full_refusals_total", "Enroll requests refused course_full from this instance's memory of full courses, without a Redis round trip (also counted in enroll_tickets_total{outcome=\"refused_full\"}).").unwrap(),
            admission_paused: IntGauge::new("enroll_admission_paused", "1 while an admin has paused admission (tickets queue, nothing is decided).").unwrap(),
            admission_scans: IntCounter::new("enroll_admission_scans_total", "Times this instance's admission runner read every queue's length (every 20 ms while busy, 250 ms idle).").unwrap(),
            lease_takeovers: IntCounter::new("enroll_admission_lease_takeovers_total", "Course leases taken over after another worker's lease expired.").unwrap(),
            redis_rebuilds: IntCounter::new("enroll_redis_rebuilds_total", "Times this instance found Redis without its data (new, restarted empty, or a replica promoted before it had it) and rebuilt sessions, full flags and won tickets from the database.").unwrap(),
            admission_lease_lost: IntCounter::new("enroll_admission_lease_lost_total", "Committed batches whose decisions were not written back because the worker no longer held the course's lease (the new holder writes them).").unwrap(),
            ticket_streams: IntGauge::new("enroll_ticket_streams", "Students' ticket event streams held open on this instance.").unwrap(),
            ticket_events: IntCounter::new("enroll_ticket_events_total", "Ticket decisions pushed to event streams on this instance.").unwrap(),
            ticket_position_events: IntCounter::new("enroll_ticket_position_events_total", "Places in line pushed to event streams on this instance (position events, at most one per ticket every ENROLL_POSITION_INTERVAL_MS).").unwrap(),
            ticket_streams_dropped: IntCounter::new("enroll_ticket_streams_dropped_total", "Event streams closed because their client stopped reading (too many events unread).").unwrap(),
            catalog_miss_reloads: IntCounter::new("enroll_catalog_miss_reloads_total", "Reloads of the in-memory catalogue caused by enroll requests for course ids it did not know (at most a few per second).").unwrap(),
            connections: Arc::new(ConnStats::default()),
            http_connections: IntGauge::new("enroll_http_connections", "HTTP connections held now (event streams included).").unwrap(),
            http_connections_refused: IntCounter::new("enroll_http_connections_refused_total", "Connections answered 503 too_many_connections because the connection cap was reached.").unwrap(),
            http_accept_errors: IntCounter::new("enroll_http_accept_errors_total", "Failed accepts (e.g. out of file descriptors); the accept loop backs off.").unwrap(),
            mail: MailMetrics::register(&registry),
            registrar: RegistrarMetrics::register(&registry),
            registry,
        };
        let r = &m.registry;
        r.register(Box::new(m.http_requests.clone())).unwrap();
        r.register(Box::new(m.http_duration.clone())).unwrap();
        r.register(Box::new(m.db_pool_connections.clone())).unwrap();
        r.register(Box::new(m.db_up.clone())).unwrap();
        r.register(Box::new(m.redis_up.clone())).unwrap();
        r.register(Box::new(m.replica_lag.clone())).unwrap();
        r.register(Box::new(m.replica_healthy.clone())).unwrap();
        r.register(Box::new(m.replica_fallbacks.clone())).unwrap();
        r.register(Box::new(m.queue_length.clone())).unwrap();
        r.register(Box::new(m.tickets.clone())).unwrap();
        r.register(Box::new(m.decisions.clone())).unwrap();
        r.register(Box::new(m.batch_size.clone())).unwrap();
        r.register(Box::new(m.enqueue_batch_size.clone())).unwrap();
        r.register(Box::new(m.fair_use_refusals.clone())).unwrap();
        r.register(Box::new(m.commit_seconds.clone())).unwrap();
        r.register(Box::new(m.transaction_courses.clone())).unwrap();
        r.register(Box::new(m.batches_waiting.clone())).unwrap();
        r.register(Box::new(m.transaction_failures.clone()))
            .unwrap();
        r.register(Box::new(m.lease_takeovers.clone())).unwrap();
        r.register(Box::new(m.admission_lease_lost.clone()))
            .unwrap();
        r.register(Box::new(m.redis_rebuilds.clone())).unwrap();
        r.register(Box::new(m.admission_decisions_per_second.clone()))
            .unwrap();
        r.register(Box::new(m.session_lookups.clone())).unwrap();
        r.register(Box::new(m.known_full_refusals.clone())).unwrap();
        r.register(Box::new(m.admission_paused.clone())).unwrap();
        r.register(Box::new(m.admission_scans.clone())).unwrap();
        r.register(Box::new(m.ticket_streams.clone())).unwrap();
        r.register(Box::new(m.ticket_events.clone())).unwrap();
        r.register(Box::new(m.ticket_position_events.clone()))
            .unwrap();
        r.register(Box::new(m.ticket_streams_dropped.clone()))
            .unwrap();
        r.register(Box::new(m.catalog_miss_reloads.clone()))
            .unwrap();
        r.register(Box::new(m.http_connections.clone())).unwrap();
        r.register(Box::new(m.http_connections_refused.clone()))
            .unwrap();
        r.register(Box::new(m.http_accept_errors.clone())).unwrap();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .unwrap();
        Self(Arc::new(m))
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let (open, _, refused, accept_errors) = self.connections.snapshot();
        self.http_connections.set(open as i64);
        // Counters only go up: add what happened since the last scrape.
        for (counter, now) in [
            (&self.http_connections_refused, refused),
            (&self.http_accept_errors, accept_errors),
        ] {
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding of gathered metrics cannot fail");
        String::from_utf8(buf).expect("metrics text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware counting and timing every request by its route template.
pub async fn track_http(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    // Both are cheap to clone (a shared string, an enum): no allocation.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics
        .http_duration
        .with_label_values(&[route, method.as_str()])
        .observe(start.elapsed().as_secs_f64());
    metrics
        .http_requests
        .with_label_values(&[route, method.as_str(), response.status().as_str()])
        .inc();
    response
}
