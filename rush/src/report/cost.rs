//! What the rush cost: CPU seconds of every process of the stack and the
//! tool ([`CpuUse`]), per request, and the server's admission transactions
//! ([`AdmissionUse`]).

use serde::Serialize;

/// CPU seconds each side used during the rush wave.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub wall_seconds: f64,
    pub enroll_server: f64,
    pub postgres_primary: f64,
    pub postgres_replica: f64,
    pub redis: f64,
    pub rush_tool: f64,
}

impl CpuUse {
    /// CPU seconds of every process of the stack and the tool together.
    pub fn total(&self) -> f64 {
        self.enroll_server
            + self.postgres_primary
            + self.postgres_replica
            + self.redis
            + self.rush_tool
    }

    /// What one request's final answer cost the machine, all told and by
    /// process, in CPU µs.
    pub fn per_request_text(&self, requests: usize) -> String {
        let us = |s: f64| micros_per_request(s, requests);
        format!(
            "{:.0}: server {:.0} · postgres {:.0} (+replica {:.0}) · redis {:.0} · rush {:.0}",
            us(self.total()),
            us(self.enroll_server),
            us(self.postgres_primary),
            us(self.postgres_replica),
            us(self.redis),
            us(self.rush_tool)
        )
    }
}

/// `cpu_seconds` spread over `requests`, in µs per request.
pub fn micros_per_request(cpu_seconds: f64, requests: usize) -> f64 {
    cpu_seconds * 1e6 / requests.max(1) as f64
}

/// Admission batches during the rush (server histograms, after - before).
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionUse {
    pub batches: f64,
    pub mean_batch_size: f64,
    pub mean_transaction_ms: f64,
}

impl AdmissionUse {
    /// From `(batches, tickets, seconds)` totals before and after.
    pub fn between(before: (f64, f64, f64), after: (f64, f64, f64)) -> Self {
        let batches = after.0 - before.0;
        Self {
            batches,
            mean_batch_size: (after.1 - before.1) / batches.max(1.0),
            mean_transaction_ms: (after.2 - before.2) * 1e3 / batches.max(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_request_adds_every_process() {
        let c = CpuUse {
            wall_seconds: 2.5,
            enroll_server: 2.0,
            postgres_primary: 0.7,
            postgres_replica: 0.1,
            redis: 0.75,
            rush_tool: 1.2,
        };
        assert!((c.total() - 4.75).abs() < 1e-9);
        assert_eq!(
            c.per_request_text(50_000),
            "95: server 40 · postgres 14 (+replica 2) · redis 15 · rush 24"
        );
    }
}
