//! [`Config::parse`]: the YAML, then what serde cannot check (timeouts
//! against intervals, job names, schemes, targets, the notifier's keys), each
//! error with the line and column it points at.

use std::collections::HashSet;

use super::{Config, ConfigError};
use crate::rules::file::yaml_location;

impl Config {
    /// Parses YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let err = |line, column, message| ConfigError {
            file: file.to_string(),
            line,
            column,
            message,
        };
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| {
                let (l, c) = yaml_location(&e);
                err(l, c, e.to_string())
            })?
        };
        let g = &config.global;
        if g.scrape_timeout.is_some_and(|t| t > g.scrape_interval) {
            let (l, c) = key_position(text, "scrape_timeout");
            return Err(err(
                l,
                c,
                "global scrape timeout greater than scrape interval".into(),
            ));
        }
        if let Err(e) = config
            .notify_config()
            .as_ref()
            .map_or(Ok(()), |n| n.validate())
        {
            let (l, c) = notify_error_position(text, &e);
            return Err(err(l, c, e.to_string()));
        }
        let positions = job_positions(text);
        let mut jobs = HashSet::new();
        for (i, sc) in config.scrape_configs.iter().enumerate() {
            let (l, c) = positions.get(i).copied().unwrap_or((0, 0));
            if sc.job_name.is_empty() {
                return Err(err(l, c, "job_name is empty".into()));
            }
            if !jobs.insert(sc.job_name.clone()) {
                return Err(err(
                    l,
                    c,
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                ));
            }
            if sc.scheme != "http" && sc.scheme != "https" {
                return Err(err(
                    l,
                    c,
                    format!(
                        "job {:?}: scheme {:?} is not supported (http or https)",
                        sc.job_name, sc.scheme
                    ),
                ));
            }
            let interval = sc.scrape_interval.unwrap_or(g.scrape_interval);
            let timeout = sc.scrape_timeout.unwrap_or(g.timeout().min(interval));
            if timeout > interval {
                return Err(err(
                    l,
                    c,
                    format!(
                        "job {:?}: scrape timeout greater than scrape interval",
                        sc.job_name
                    ),
                ));
            }
            for t in sc.static_configs.iter().flat_map(|s| &s.targets) {
                if t.contains('/') || !t.contains(':') {
                    return Err(err(
                        l,
                        c,
                        format!("job {:?}: target {t:?} must be host:port", sc.job_name),
                    ));
                }
            }
        }
        Ok(config)
    }
}

fn key_position(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(&format!("{key}:")).map(|c| (i + 1, c + 1)))
        .unwrap_or((0, 0))
}

/// Where a notifier validation error points: the line naming the value at
/// fault (`receiver: pager`, a time interval's name) under the top-level
/// key its path starts with (`route`, `receivers`, `time_intervals`), else
/// that key's line, else `route`'s.
fn notify_error_position(text: &str, e: &notifier::config::ConfigError) -> (usize, usize) {
    let (path, message) = match e {
        notifier::config::ConfigError::Invalid { path, message } => {
            (path.as_str(), message.as_str())
        }
        notifier::config::ConfigError::Parse(_) => ("route", ""),
    };
    let top = path.split(['.', '[']).next().unwrap_or("route");
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(&format!("{top}:"))) else {
        return (0, 0);
    };
    // The section: up to the next top-level key.
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map_or(lines.len(), |i| start + 1 + i);
    let field = path
        .rsplit('.')
        .next()
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("");
    let value = message.split('"').nth(1).filter(|v| !v.is_empty());
    let field_line =
        (start..end).find(|&i| !field.is_empty() && lines[i].contains(&format!("{field}:")));
    let from = field_line.unwrap_or(start);
    let mut value_lines = (from..end).filter(|&i| value.is_some_and(|v| lines[i].contains(v)));
    // A duplicate is the later of two equal names.
    let at = if message.contains("not unique") {
        value_lines.next_back()
    } else {
        value_lines.next()
    };
    match (at, field_line) {
        (Some(i), _) => (i + 1, lines[i].find(value.unwrap_or("")).unwrap_or(0) + 1),
        (None, Some(i)) => (i + 1, lines[i].find(field).unwrap_or(0) + 1),
        (None, None) => (start + 1, 1),
    }
}

pub(super) fn job_positions(text: &str) -> Vec<(usize, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let col = line.find("job_name:")?;
            Some((i + 1, col + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_style_config_and_rejects_unknown_keys() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n        labels: {role: db}\nroute:\n  receiver: slack\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\n";
        let c = Config::parse(text, "a.yml").unwrap();
        let t = c.targets();
        assert_eq!(t[0].url, "http://127.0.0.1:9100/metrics");
        assert_eq!(t[0].labels.get("role").unwrap(), "db");
        assert_eq!(t[0].interval_ms, 15_000);
        assert_eq!(t[0].timeout_ms, 10_000);
        assert!(c.route.is_some());
        let e = Config::parse("global:\n  scrape_intervall: 15s\n", "a.yml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().starts_with("a.yml:2:"), "{e}");
        let e = Config::parse(
            "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
            "a.yml",
        )
        .unwrap_err();
        assert!(e.message.contains("https"), "{e}");
    }
    #[test]
    fn notifier_keys_are_typed_and_errors_name_file_and_line() {
        let ok = "scrape_configs: []\nroute:\n  receiver: slack\n  group_wait: 0s\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\ninhibit_rules:\n  - source_matchers: ['alertname=\"InstanceDown\"']\n    equal: [instance]\n";
        let n = Config::parse(ok, "a.yml").unwrap().notify_config().unwrap();
        assert_eq!(n.route.receiver.as_deref(), Some("slack"));
        assert_eq!(n.inhibit_rules[0].equal, vec!["instance".to_string()]);
        assert!(Config::parse("scrape_configs: []\n", "a.yml")
            .unwrap()
            .notify_config()
            .is_none());
        let unknown_key = ok.replace("group_wait: 0s", "group_waitt: 0s");
        let e = Config::parse(&unknown_key, "a.yml").unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("group_waitt")),
            (4, true),
            "{e}"
        );
        let bad_ref = ok.replace("receiver: slack", "receiver: pager");
        let e = Config::parse(&bad_ref, "a.yml").unwrap_err();
        assert_eq!((e.line, e.column), (3, 13), "the value at fault: {e}");
        assert!(e.to_string().contains("route.receiver"), "{e}");
        let bad_receiver = ok.replace("api_url: http://127.0.0.1:9/hook", "channel: '#x'");
        let e = Config::parse(&bad_receiver, "a.yml").unwrap_err();
        assert_eq!(e.line, 7, "slack_configs: {e}");
    }

    #[test]
    fn time_interval_errors_name_file_and_line() {
        let ok = "route:\n  receiver: slack\n  routes:\n    - matchers: ['team=\"db\"']\n      mute_time_intervals:\n        - weekends\n      active_time_intervals: [office]\nreceivers:\n  - name: slack\ntime_intervals:\n  - name: weekends\n    time_intervals:\n      - weekdays: [saturday, sunday]\n  - name: office\n    time_intervals:\n      - times: [{start_time: '09:00', end_time: '17:00'}]\n        location: Europe/Berlin\n";
        let n = Config::parse(ok, "a.yml").unwrap().notify_config().unwrap();
        assert_eq!(n.time_intervals.len(), 2);
        let undefined = ok.replace("        - weekends\n", "        - holidays\n");
        let e = Config::parse(&undefined, "a.yml").unwrap_err();
        assert_eq!((e.line, e.column), (6, 11), "{e}");
        assert!(
            e.message.contains("undefined time interval \"holidays\""),
            "{e}"
        );
        let twice = ok.replace("name: office", "name: weekends");
        let e = Config::parse(&twice, "a.yml").unwrap_err();
        assert_eq!(e.line, 14, "the second definition: {e}");
        let bad_time = ok.replace("'17:00'", "'17:60'");
        let e = Config::parse(&bad_time, "a.yml").unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("couldn't parse timestamp 17:60"), "{e}");
        let bad_day = ok.replace("saturday, sunday", "saturday, sundy");
        let e = Config::parse(&bad_day, "a.yml").unwrap_err();
        assert_eq!(e.line, 13, "{e}");
        assert!(e.message.contains("sundy is not a valid weekday"), "{e}");
        let bad_zone = ok.replace("Europe/Berlin", "Europe/Atlantis");
        let e = Config::parse(&bad_zone, "a.yml").unwrap_err();
        assert_eq!(e.line, 16, "the interval's entry: {e}");
        assert!(
            e.message.contains("unknown time zone Europe/Atlantis"),
            "{e}"
        );
        let on_root = ok.replace(
            "  routes:\n",
            "  mute_time_intervals: [weekends]\n  routes:\n",
        );
        let e = Config::parse(&on_root, "a.yml").unwrap_err();
        assert!(
            e.message
                .contains("root route must not have mute_time_intervals"),
            "{e}"
        );
        assert_eq!(e.line, 3, "{e}");
    }
}
