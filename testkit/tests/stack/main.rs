//! The operator-facing assembly, checked without Docker or Grafana:
//!
//! - [`balanced`]: the local stack (`devstack`) with Slack faked: HAProxy
//!   routes around a killed enroll-server, the alert reaches Slack once and
//!   resolves.
//! - [`compose`]: `docker-compose.yml` and `deploy/` parse; every service has
//!   a healthcheck; every bind-mounted host path exists.
//! - [`dashboards`]: the Grafana dashboards and provisioning files are
//!   well-formed and name only metrics the services export.
//! - [`live`]: a real Prometheus scrapes a real enroll-server and node-agent
//!   (over real PostgreSQL + replica and Redis), and every dashboard panel's
//!   query returns data; [`traffic`] is what it asks enroll-server to do.

mod balanced;
mod common;
mod compose;
mod dashboards;
mod live;
mod traffic;
