//! Block Kit rendering within Slack's limits: at most 50 blocks, at most
//! 3,000 characters per section text, 150 per header. Alerts that do not fit
//! are summarised in a final block ("…and 37 more alerts: …"), never dropped
//! silently. The blocks sit in an attachment so the message gets a colour bar
//! by severity (green once resolved).

use crate::notification::{Content, Notification, NotifiedAlert, Summary};
use crate::template::{Template, TemplateData};
use slack_morphism::prelude::*;
use std::collections::BTreeMap;

/// Slack's block limit per message.
pub const MAX_BLOCKS: usize = 50;
/// Slack's limit on a section block's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Slack's limit on a header block's text.
pub const MAX_HEADER_CHARS: usize = 150;

/// Colour when resolved.
pub const COLOR_RESOLVED: &str = "#2eb886";
const COLOR_CRITICAL: &str = "#d00000";
const COLOR_WARNING: &str = "#daa038";
const COLOR_INFO: &str = "#439fe0";

/// Optional templates from the Slack config.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageTemplates {
    pub title: Option<Template>,
    pub text: Option<Template>,
    pub external_url: String,
}

/// Renders queued content as a Slack message.
pub(crate) fn render(content: &Content, templates: &MessageTemplates) -> SlackMessageContent {
    match content {
        Content::Group(n) => render_group(n, templates),
        Content::Summary(s) => render_summary(s),
    }
}

/// Cuts `text` to `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escapes the three characters Slack's mrkdwn reserves.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn color(n: &Notification) -> &'static str {
    if n.firing() == 0 {
        return COLOR_RESOLVED;
    }
    let rank = |a: &NotifiedAlert| match a
        .alert
        .labels
        .get("severity")
        .map(|s| s.to_lowercase())
        .as_deref()
    {
        Some("critical" | "page" | "error" | "high") => 3,
        Some("warning" | "warn" | "medium") => 2,
        Some(_) => 1,
        None => 0,
    };
    match n
        .alerts
        .iter()
        .filter(|a| !a.resolved)
        .map(rank)
        .max()
        .unwrap_or(0)
    {
        3 => COLOR_CRITICAL,
        2 => COLOR_WARNING,
        _ => COLOR_INFO,
    }
}

fn template_data(n: &Notification, t: &MessageTemplates) -> TemplateData {
    TemplateData {
        status: n.status().to_string(),
        receiver: n.receiver.clone(),
        group_labels: n.group_labels.clone(),
        common_labels: n.common_labels(),
        common_annotations: n.common_annotations(),
        firing: n.firing(),
        resolved: n.resolved(),
        external_url: t.external_url.clone(),
    }
}

/// Alertmanager's default title: `[FIRING:2] value value`.
fn default_title(n: &Notification) -> String {
    let count = if n.firing() > 0 {
        n.firing()
    } else {
        n.resolved()
    };
    let values: Vec<&str> = n.group_labels.values().map(String::as_str).collect();
    let name = if values.is_empty() {
        n.common_labels()
            .get("alertname")
            .cloned()
            .unwrap_or_default()
    } else {
        values.join(" ")
    };
    format!("[{}:{}] {}", n.status().to_uppercase(), count, name)
        .trim()
        .to_string()
}

fn section(text: String) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(md!(truncate(&text, MAX_SECTION_CHARS)))
        .into()
}

fn render_group(n: &Notification, t: &MessageTemplates) -> SlackMessageContent {
    let data = template_data(n, t);
    let title = t
        .title
        .as_ref()
        .map(|tpl| tpl.render(&data))
        .filter(|title| !title.trim().is_empty())
        .unwrap_or_else(|| default_title(n));
    let mut blocks: Vec<SlackBlock> =
        vec![SlackHeaderBlock::new(pt!(truncate(&title, MAX_HEADER_CHARS))).into()];
    let mut intro = format!(
        "*Status:* {} · *Alerts:* {} firing, {} resolved",
        n.status(),
        n.firing(),
        n.resolved()
    );
    if let Some(text) = &t.text {
        intro = format!("{}\n{intro}", text.render(&data));
    }
    blocks.push(section(intro));
    let common = n.common_labels();
    if !common.is_empty() {
        blocks.push(section(format!("*Common labels:* {}", label_list(&common))));
    }
    blocks.push(SlackDividerBlock::new().into());
    let room = MAX_BLOCKS - blocks.len();
    let shown = if n.alerts.len() <= room {
        n.alerts.len()
    } else {
        room - 1
    };
    for a in &n.alerts[..shown] {
        blocks.push(section(alert_text(a, &common)));
    }
    if shown < n.alerts.len() {
        blocks.push(section(overflow_text(&n.alerts[shown..])));
    }
    let attachment = SlackMessageAttachment::new()
        .with_color(color(n).to_string())
        .with_fallback(title.clone())
        .with_blocks(blocks);
    SlackMessageContent::new()
        .with_text(title)
        .with_attachments(vec![attachment])
}

fn label_list(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Headline, own labels and links first (they identify the alert), then the
/// description, cut to what is left of the section's 3,000 characters.
fn alert_text(a: &NotifiedAlert, common: &BTreeMap<String, String>) -> String {
    let ann = &a.alert.annotations;
    let state = if a.resolved {
        ":white_check_mark: resolved"
    } else {
        ":fire: firing"
    };
    let headline = ann
        .get("summary")
        .cloned()
        .unwrap_or_else(|| a.alert.name().to_string());
    let mut text = format!("*{}* ({state})", escape(&truncate(&headline, 300)));
    let own: BTreeMap<String, String> = a
        .alert
        .labels
        .iter()
        .filter(|(k, _)| !common.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !own.is_empty() {
        text.push('\n');
        text.push_str(&truncate(&label_list(&own), 1000));
    }
    let mut links = Vec::new();
    if let Some(url) = ann.get("runbook_url").filter(|u| !u.is_empty()) {
        links.push(format!("<{}|:notebook: Runbook>", escape(url)));
    }
    if let Some(url) = a.alert.generator_url.as_deref().filter(|u| !u.is_empty()) {
        links.push(format!("<{}|Source>", escape(url)));
    }
    if !links.is_empty() {
        text.push('\n');
        text.push_str(&truncate(&links.join(" · "), 1000));
    }
    if let Some(d) = ann.get("description").filter(|d| !d.is_empty()) {
        let room = MAX_SECTION_CHARS.saturating_sub(text.chars().count() + 1);
        if room > 1 {
            text.push('\n');
            text.push_str(&truncate(&escape(d), room));
        }
    }
    text
}

/// `…and 37 more alerts: HostDown ×30, DiskFull ×7`.
fn overflow_text(rest: &[NotifiedAlert]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in rest {
        *counts.entry(a.alert.name()).or_default() += 1;
    }
    let names: Vec<String> = counts
        .iter()
        .map(|(n, c)| format!("{} ×{c}", escape(n)))
        .collect();
    format!("…and {} more alerts: {}", rest.len(), names.join(", "))
}

fn render_summary(s: &Summary) -> SlackMessageContent {
    let title = format!(
        "[SUMMARY] {} notifications ({} alerts) held back while Slack was unreachable",
        s.lines.len(),
        s.alerts
    );
    let mut blocks: Vec<SlackBlock> =
        vec![SlackHeaderBlock::new(pt!(truncate(&title, MAX_HEADER_CHARS))).into()];
    let mut current = String::new();
    let mut used = 0;
    for line in &s.lines {
        let line = escape(line);
        if current.chars().count() + line.chars().count() + 1 > MAX_SECTION_CHARS {
            if blocks.len() >= MAX_BLOCKS - 2 {
                break;
            }
            blocks.push(section(std::mem::take(&mut current)));
        }
        current.push_str(&line);
        current.push('\n');
        used += 1;
    }
    if !current.is_empty() {
        blocks.push(section(current));
    }
    if used < s.lines.len() {
        blocks.push(section(format!(
            "…and {} more notifications",
            s.lines.len() - used
        )));
    }
    let attachment = SlackMessageAttachment::new()
        .with_color(COLOR_WARNING.to_string())
        .with_fallback(title.clone())
        .with_blocks(blocks);
    SlackMessageContent::new()
        .with_text(title)
        .with_attachments(vec![attachment])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_summary_stays_within_limits_and_counts_the_rest() {
        let lines: Vec<String> = (0..5000)
            .map(|i| format!("[FIRING:1] Alert{i:04} host-{i} (queued 2030-01-01 00:00:00Z)"))
            .collect();
        let content = Content::Summary(Summary {
            lines,
            alerts: 5000,
        });
        let message = render(&content, &MessageTemplates::default());
        let json = serde_json::to_value(&message).unwrap();
        let blocks = json["attachments"][0]["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        let texts: Vec<&str> = blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .collect();
        assert!(texts.iter().all(|t| t.chars().count() <= MAX_SECTION_CHARS));
        let shown: usize = texts.iter().map(|t| t.matches("[FIRING:1]").count()).sum();
        let last = texts.last().unwrap();
        assert_eq!(*last, format!("…and {} more notifications", 5000 - shown));
        assert!(json["text"]
            .as_str()
            .unwrap()
            .contains("5000 notifications"));
    }

    #[test]
    fn truncate_and_escape() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
