//! The inbox page: every notification held, newest first, as plain HTML
//! that refreshes itself every five seconds. Every value is escaped: alert
//! labels and annotations come from whoever can push alerts.

use std::fmt::Write;

use super::Received;

/// `s` for HTML text or a double-quoted attribute value.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(s)
}

const HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>Alert inbox</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:60rem}
article{border-left:.4rem solid #c0392b;padding:.3rem .8rem;margin:.8rem 0;background:#fafafa}
article.resolved{border-color:#27ae60}
h2{font-size:1rem;margin:.2rem 0}
.meta,.labels{color:#555;font-size:.85rem}
code{background:#eee;padding:0 .2rem}
</style></head><body>
<h1>Alert inbox</h1>
<p class="meta">Notifications the alerter sent to this local receiver, newest first. This page refreshes every 5 s.</p>
"#;

/// The page for `items` (newest first).
pub fn render(items: &[Received]) -> String {
    let mut out = String::from(HEAD);
    if items.is_empty() {
        out.push_str("<p>No notification yet. Stop a service and one arrives within a couple of minutes.</p>\n");
    }
    for r in items {
        let n = &r.notification;
        let group: Vec<String> = n
            .group_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = write!(
            out,
            "<article class=\"{status}\"><h2>[{upper}] {group}</h2>\
             <p class=\"meta\">received {at} · receiver <code>{receiver}</code> · {count} alert(s)</p><ul>",
            status = esc(&n.status),
            upper = esc(&n.status.to_uppercase()),
            group = esc(&group.join(", ")),
            at = esc(&r.received_at),
            receiver = esc(&n.receiver),
            count = n.alerts.len(),
        );
        for a in &n.alerts {
            let summary = a
                .annotations
                .get("summary")
                .or_else(|| a.labels.get("alertname"))
                .map(String::as_str)
                .unwrap_or("");
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(
                out,
                "<li><strong>{summary}</strong> ({status}, since {since})<br>\
                 <span class=\"labels\">{labels}</span>",
                summary = esc(summary),
                status = esc(&a.status),
                since = esc(&a.starts_at),
                labels = esc(&labels.join(" ")),
            );
            if let Some(d) = a.annotations.get("description") {
                let _ = write!(out, "<br>{}", esc(d));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul></article>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::{Notification, WebhookAlert};

    #[test]
    fn escapes_everything_an_alert_carries() {
        let alert = WebhookAlert {
            status: "firing".into(),
            labels: [("alertname".into(), "<script>x</script>".into())].into(),
            annotations: [("description".into(), "a & \"b\"".into())].into(),
            starts_at: "2026-01-01T00:00:00Z".into(),
            ends_at: String::new(),
        };
        let r = Received {
            received_at: "2026-01-01T00:00:05Z".into(),
            notification: Notification {
                receiver: "oncall".into(),
                status: "firing".into(),
                alerts: vec![alert],
                group_labels: [("alertname".into(), "<b>".into())].into(),
                common_annotations: Default::default(),
                external_url: String::new(),
            },
        };
        let html = render(&[r]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(html.contains("a &amp; &quot;b&quot;"), "{html}");
        assert!(html.contains("alertname=&lt;b&gt;"), "{html}");
        assert!(html.contains("[FIRING]"), "{html}");
    }
}
