//! The notifier's metrics, registered on the registry the alerter serves on
//! `/metrics`.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

/// Metric handles.
#[derive(Clone)]
pub(crate) struct Metrics {
    /// Delivery attempts by outcome: success, rate_limited, retry, failed,
    /// summarised (folded into an overflow summary), suppressed (not sent:
    /// send_resolved false).
    pub notifications: IntCounterVec,
    /// Time of each delivery request.
    pub latency: HistogramVec,
    /// Notifications waiting for delivery.
    pub queue_length: IntGauge,
    /// Notifications given up on, kept for the operator.
    pub dead_letters: IntGauge,
    /// Alerts received, firing or resolved.
    pub alerts_received: IntCounterVec,
    /// Aggregation groups alive.
    pub groups: IntGauge,
    /// Failed state-file writes.
    pub state_write_failures: prometheus::IntCounter,
}

impl Metrics {
    pub fn register(registry: &Registry) -> Result<Metrics, prometheus::Error> {
        let m = Metrics {
            notifications: IntCounterVec::new(
                Opts::new(
                    "alerter_notifications_total",
                    "Notification delivery attempts by receiver, integration and outcome.",
                ),
                &["receiver", "integration", "outcome"],
            )?,
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "alerter_notification_latency_seconds",
                    "Duration of notification delivery requests.",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["receiver", "integration"],
            )?,
            queue_length: IntGauge::new(
                "alerter_notification_queue_length",
                "Notifications waiting for delivery.",
            )?,
            dead_letters: IntGauge::new(
                "alerter_notification_dead_letters",
                "Notifications that cannot be delivered, kept for the operator.",
            )?,
            alerts_received: IntCounterVec::new(
                Opts::new(
                    "alerter_notifier_alerts_received_total",
                    "Alerts handed to the notifier, by status.",
                ),
                &["status"],
            )?,
            groups: IntGauge::new(
                "alerter_notifier_aggregation_groups",
                "Aggregation groups alive.",
            )?,
            state_write_failures: prometheus::IntCounter::new(
                "alerter_notifier_state_write_failures_total",
                "Failed writes of the notifier state file.",
            )?,
        };
        registry.register(Box::new(m.notifications.clone()))?;
        registry.register(Box::new(m.latency.clone()))?;
        registry.register(Box::new(m.queue_length.clone()))?;
        registry.register(Box::new(m.dead_letters.clone()))?;
        registry.register(Box::new(m.alerts_received.clone()))?;
        registry.register(Box::new(m.groups.clone()))?;
        registry.register(Box::new(m.state_write_failures.clone()))?;
        Ok(m)
    }
}
