//! Alertmanager's webhook payload (version 4) for `webhook_configs`.

use crate::notification::Content;
use serde_json::{json, Value};

/// Builds the JSON body; `max_alerts` 0 means no cap.
pub(crate) fn payload(
    content: &Content,
    receiver: &str,
    max_alerts: usize,
    external_url: &str,
) -> Value {
    match content {
        Content::Group(n) => {
            let cap = if max_alerts == 0 {
                n.alerts.len()
            } else {
                max_alerts.min(n.alerts.len())
            };
            let alerts: Vec<Value> = n.alerts[..cap]
                .iter()
                .map(|a| {
                    let mut v = serde_json::to_value(&a.alert).unwrap_or(Value::Null);
                    v["status"] = json!(if a.resolved { "resolved" } else { "firing" });
                    v["fingerprint"] = json!(format!("{:016x}", a.fingerprint));
                    v
                })
                .collect();
            json!({
                "version": "4",
                "groupKey": n.group_key,
                "truncatedAlerts": n.alerts.len() - cap,
                "status": n.status(),
                "receiver": receiver,
                "groupLabels": n.group_labels,
                "commonLabels": n.common_labels(),
                "commonAnnotations": n.common_annotations(),
                "externalURL": external_url,
                "alerts": alerts,
            })
        }
        Content::Summary(s) => json!({
            "version": "4",
            "status": "firing",
            "receiver": receiver,
            "externalURL": external_url,
            "alerts": [],
            "summary": s.lines,
            "truncatedAlerts": s.alerts,
        }),
    }
}
