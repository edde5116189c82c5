//! The command line.

use std::path::PathBuf;

use clap::Parser;

use crate::mix::Scenario;

/// The workloads `--scenario` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenarios {
    /// The rush on a window open to everyone.
    Default,
    /// The same rush under phases and reserved seats.
    Phased,
    /// Default, then phased, --repeat times over; then the two compared.
    Both,
    /// The default rush, while students told course_full join the waitlist
    /// and enrolled ones cancel a course.
    Waitlist,
    /// The default rush after a cart period: carts settled at close by fit
    /// and a seeded lottery.
    Cart,
}

impl Scenarios {
    /// The scenarios of one round, in the order they run.
    pub fn round(self) -> &'static [Scenario] {
        match self {
            Scenarios::Default => &[Scenario::Default],
            Scenarios::Phased => &[Scenario::Phased],
            Scenarios::Both => &[Scenario::Default, Scenario::Phased],
            Scenarios::Waitlist => &[Scenario::Waitlist],
            Scenarios::Cart => &[Scenario::Cart],
        }
    }
}

/// Registration-day rush against enroll-server: creates students and
/// courses, logs every student in, fires all enrollment requests at once,
/// polls every ticket to its decision, checks invariants 1-7 in the
/// database and its audit trail, and compares the decision rate with
/// pgbench's single-statement enroll rate on the same database.
///
/// Without --target it starts a stack of its own: PostgreSQL (durable
/// settings, one streaming replica), redis-server and the enroll-server
/// release binary found next to this one (`cargo build --release -p
/// enroll-server`). Exits with status 1 when any invariant is violated.
#[derive(Debug, Clone, Parser)]
#[command(name = "rush", version)]
pub struct Cli {
    /// Students to create and log in.
    #[arg(long, default_value_t = 10_000)]
    pub students: usize,

    /// Enrollment requests per student, one per timetable slot (1 to 6; 3 credits each).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=6))]
    pub requests: u8,

    /// Hot courses per timetable slot.
    #[arg(long, default_value_t = 2)]
    pub hot_per_slot: usize,

    /// Seats in each hot course.
    #[arg(long, default_value_t = 40)]
    pub hot_capacity: i32,

    /// Share of requests that go to a hot course (0 to 1).
    #[arg(long, default_value_t = 0.4)]
    pub hot_share: f64,

    /// Normal courses per timetable slot; their capacities run from 0.7x to
    /// 1.3x their expected demand.
    #[arg(long, default_value_t = 20)]
    pub normal_per_slot: usize,

    /// Share of students enrolled, before the rush, in a seminar clashing with
    /// their slot-0 course (must be rejected `schedule_conflict`).
    #[arg(long, default_value_t = 0.05)]
    pub clash_share: f64,

    /// Share of students enrolled, before the rush, in a 16-credit capstone
    /// (every rush request must be rejected `credit_limit`).
    #[arg(long, default_value_t = 0.02)]
    pub credit_share: f64,

    /// Which workload. `phased` is the default rush's courses and requests
    /// under the registrar's rules: students spread over years 1-4 and the
    /// catalogue's departments, 30 % of every course's seats reserved for
    /// its own department, and at the start two phases open for disjoint
    /// years (3-4, and 2) while year 1's is still to come, so that quarter
    /// of the crowd is answered 403 not_your_phase. `both` runs default
    /// then phased, --repeat times over (interleaved on the same machine),
    /// and prints the two side by side with their ratio. `waitlist` is the
    /// default rush while, as it runs, --waitlist-share of the students
    /// told `course_full` join that course's waitlist and --cancel-share
    /// of the students enrolled give their first course back (invariant
    /// 8: promotions in waitlist order, no seat idle with someone waiting
    /// who could take it, one audit row per change).
    #[arg(long, value_enum, default_value_t = Scenarios::Default)]
    pub scenario: Scenarios,

    /// `--scenario waitlist`: share of `course_full` answers followed by a
    /// waitlist join (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    pub waitlist_share: f64,

    /// `--scenario waitlist`: share of students who cancel the first course
    /// they are told they got (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    pub cancel_share: f64,

    /// `--scenario cart`: share of students who put every course they will
    /// ask for in their cart before the rush (0 to 1).
    #[arg(long, default_value_t = 0.7)]
    pub cart_share: f64,

    /// `--scenario cart`: what the close does with over-demanded courses.
    #[arg(long, default_value = "lottery", value_parser = ["lottery", "rush"])]
    pub cart_policy: String,

    /// Make Redis fail once half the enroll requests are answered, and
    /// report what that cost: acknowledged tickets lost (never decided,
    /// unknown_ticket at the end), misreported (the API and the database
    /// disagree), students logged out. `redis-flush`: the own stack's Redis
    /// is SIGKILLed and restarted empty (with --target: FLUSHALL on
    /// --redis-url); tickets still queued may be lost. `redis-failover`:
    /// the own stack runs Redis with a replica and a Sentinel, the server
    /// waits for the replica (WAIT); the primary is SIGKILLed and nothing
    /// acknowledged may be lost. Students retry enrolls answered 503 or
    /// 429. Exits 1 on a misreported ticket, or one lost when not allowed.
    #[arg(long, value_enum)]
    pub fault: Option<crate::fault::Fault>,

    /// Seed of the workload (courses picked, request order) and, with
    /// `--scenario cart`, of the cart's lottery.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Enrollment requests in flight at once (one persistent connection each).
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,

    /// Logins in flight at once.
    #[arg(long, default_value_t = 32)]
    pub login_concurrency: usize,

    /// Pause admission (PUT /api/v1/admin/admission) while the rush fires and
    /// resume it once the last enroll is answered: every request queues
    /// first, and the admission drain rate then measures admission alone,
    /// over the whole rush. Not the default: it changes the workload (no
    /// course is full during firing, so nothing is refused at once). With
    /// --target, a rush interrupted while firing leaves admission paused:
    /// resume it with the same admin call.
    #[arg(long)]
    pub hold_admission: bool,

    /// Follow tickets by polling only, without the students' event streams
    /// (the tool's model before the server pushed decisions; for
    /// comparison).
    #[arg(long)]
    pub poll_only: bool,

    /// With event streams: poll a ticket still undecided this many ms after
    /// its ETA (its event was lost).
    #[arg(long, default_value_t = 1000)]
    pub poll_fallback_ms: u64,

    /// Ticket polls in flight at once (one persistent connection each, besides
    /// the enroll connections).
    #[arg(long, default_value_t = 64)]
    pub poll_concurrency: usize,

    /// Shortest wait before a ticket is polled (again), in ms.
    #[arg(long, default_value_t = 25)]
    pub poll_min_ms: u64,

    /// Longest wait before a ticket is polled again, in ms (the server's ETA
    /// halved is used in between).
    #[arg(long, default_value_t = 250)]
    pub poll_max_ms: u64,

    /// Give up on undecided tickets after this many seconds (they count as
    /// violations of invariant 3).
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,

    /// Where rush-results.json, rush-plot.svg (and the own stack's server
    /// log) are written.
    #[arg(long, default_value = "target/rush")]
    pub out: PathBuf,

    /// Run pgbench for this many seconds instead of for as many transactions
    /// as the rush has requests (the default: the same work).
    #[arg(long)]
    pub pgbench_seconds: Option<u32>,

    /// Skip the pgbench baseline.
    #[arg(long)]
    pub no_pgbench: bool,

    /// Run the whole benchmark this many times (a fresh stack, students and
    /// courses each time; each run's files in `<out>/run-<k>`) and print
    /// the median, min and max of the main figures (`<out>/rush-repeat.json`).
    /// With `--scenario both`: this many rounds of default then phased
    /// (`<out>/run-<k>-<scenario>`, `<out>/rush-compare.json`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub repeat: u32,

    /// pgbench clients.
    #[arg(long, default_value_t = 32)]
    pub pgbench_clients: u32,

    /// Own stack: tickets decided per admission transaction (ENROLL_ADMISSION_BATCH_SIZE).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,

    /// Own stack: connections in the server's primary pool (ENROLL_DB_MAX_CONNECTIONS).
    #[arg(long, default_value_t = 20)]
    pub db_max_connections: u32,

    /// Own stack: send students' mail to a real SMTP server started beside
    /// it (aiosmtpd, Debian's python3-aiosmtpd), paced by the server's
    /// shipped defaults (a 10 s digest window, 50 mails/s) unless
    /// --smtp-stress, ENROLL_MAIL_DIGEST_WINDOW_MS or ENROLL_MAIL_RATE say
    /// otherwise. After the rush, waits until every mail is out (giving up,
    /// and saying how many are left, after a minute in which none went
    /// out) and prints mails per second, how many went out while the rush
    /// ran, resent and lost (`<out>/rush-mail.json`).
    #[arg(long, conflicts_with = "target")]
    pub smtp: bool,

    /// With --smtp: no digest window and no rate limit
    /// (ENROLL_MAIL_DIGEST_WINDOW_MS=0, ENROLL_MAIL_RATE=off unless set), so
    /// the sender groups, claims and sends while the rush runs: the worst
    /// case for the rush.
    #[arg(long, requires = "smtp")]
    pub smtp_stress: bool,

    /// Own stack: the enroll-server binary [default: enroll-server next to rush].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,

    /// Rush an already running server at this base URL instead of starting a stack.
    #[arg(long, requires_all = ["admin_token", "database_url"])]
    pub target: Option<String>,

    /// With --target: the server's admin token.
    #[arg(long, env = "RUSH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// With --target: the server's PostgreSQL primary (invariants and pgbench).
    #[arg(long, env = "RUSH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// With --target: the server's Redis, to check every issued ticket
    /// (without it, the tickets this tool received are checked).
    #[arg(long, env = "RUSH_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}
