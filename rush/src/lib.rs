//! rush: the registration-day benchmark for enroll-server.
//!
//! Layout:
//! - [`cli`]: the command line (every option, with its default).
//! - [`mix`]: the workload — courses per timetable slot (hot and normal),
//!   the pre-rush groups whose eligibility is fixed, the request order;
//!   for the phased scenario the students' years and departments, the
//!   courses' reserved blocks and the phases.
//! - [`stack`]: an own stack (testkit PostgreSQL + replica, redis-server,
//!   the enroll-server binary) or an already running one; CPU accounting.
//! - [`api`]: the enroll-server HTTP API as the tool uses it (reqwest for
//!   set-up, logins and `/metrics`; parsing of the measured answers).
//! - [`conn`]: the measured requests' client — persistent HTTP/1.1
//!   connections written and parsed directly (`httparse`), and the event
//!   streams' reader.
//! - [`wave`]: fire requests with bounded concurrency, follow tickets to
//!   their decision (each student's event stream, polls where no event
//!   came), sample `/metrics`; its connection workers (one per connection,
//!   taking jobs from one queue) are in `wave/worker.rs`, the streams in
//!   `wave/events.rs`; [`sse`] parses the streams.
//! - [`check`]: invariants 1-7 as pure functions over database rows, the
//!   audit trail and issued tickets; [`verify`] reads them.
//! - [`churn`]: `--scenario waitlist`'s waitlist joins and cancels, made
//!   as the rush's answers come in.
//! - [`cart`]: `--scenario cart`'s cart period before the rush — carts
//!   filled, the close and its settling timed, the cart's figures.
//! - [`fault`]: `--fault`, Redis failing halfway through the rush (lost
//!   its data, or its primary killed and the replica promoted); the
//!   ledger of every acknowledged ticket against the database after it.
//! - [`pgbench`]: the single-statement baseline on the same database.
//! - [`mail`]: with `--smtp`, the students' mail the SMTP sink received —
//!   mails per second, how many while the rush ran, none twice.
//! - [`series`]: rates from the server's sampled decision counter (whole
//!   run, and the admission drain after firing).
//! - [`report`], [`plot`]: the figures, as a table, JSON and SVG.
//! - [`run`]: one whole run, in order; [`repeat`]: `--repeat N` whole runs
//!   and the median, min and max of their figures; [`compare`]: `--scenario
//!   both`, the default and phased scenarios side by side.
//! - [`streams`]: the `rush-streams` benchmark — event streams held by one
//!   instance: memory, idle CPU, time for a decision to reach them.

pub mod api;
pub mod cart;
pub mod check;
pub mod churn;
pub mod cli;
pub mod compare;
pub mod conn;
pub mod fault;
pub mod mail;
pub mod mix;
pub mod pgbench;
pub mod plot;
pub mod repeat;
pub mod report;
pub mod run;
pub mod series;
pub mod sse;
pub mod stack;
pub mod streams;
pub mod verify;
pub mod wave;

pub use cli::Cli;
pub use report::Summary;
pub use run::run;
