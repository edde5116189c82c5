//! Configuration parsing and validation: Alertmanager field names, clear
//! errors, secrets from files, never printed.

use notifier::config::ConfigError;
use notifier::NotifyConfig;

fn err(yaml: &str) -> String {
    NotifyConfig::from_yaml(yaml)
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn unknown_receiver_is_named_with_its_path() {
    let e = err(r#"
route:
  receiver: a
  routes:
    - matchers: ['team="db"']
      receiver: pagerduty
receivers:
  - name: a
"#);
    assert!(
        e.contains("route.routes[0].receiver") && e.contains("pagerduty"),
        "{e}"
    );
}

#[test]
fn unknown_fields_are_rejected_with_line_and_column() {
    let e = err("route:\n  receiver: a\n  group_wiat: 30s\nreceivers:\n  - name: a\n");
    assert!(e.contains("group_wiat") && e.contains("line 3"), "{e}");
}

#[test]
fn bad_durations_matchers_and_templates_are_explained() {
    let e = err("route:\n  receiver: a\n  group_wait: 30 seconds\nreceivers:\n  - name: a\n");
    assert!(e.contains("invalid duration"), "{e}");
    let e = err("route:\n  receiver: a\n  routes:\n    - matchers: ['severity~critical']\nreceivers:\n  - name: a\n");
    assert!(
        e.contains("invalid matcher") || e.contains("invalid label name"),
        "{e}"
    );
    let e = err(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - api_url: http://x\n        title: '{{ range .Alerts }}'\n",
    );
    assert!(e.contains("receivers[0].slack_configs[0].title"), "{e}");
}

#[test]
fn slack_config_needs_exactly_one_secret_and_a_channel_for_tokens() {
    let e = err("route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - token: xoxb-1\n");
    assert!(e.contains("channel"), "{e}");
    let e = err(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - token: xoxb-1\n        api_url: http://x\n        channel: c\n",
    );
    assert!(e.contains("exactly one"), "{e}");
    let e = err("route:\n  receiver: a\nreceivers:\n  - name: a\n  - name: a\n");
    assert!(e.contains("duplicate receiver"), "{e}");
    assert!(matches!(
        NotifyConfig::from_yaml("route: {}\nreceivers: []\n"),
        Err(ConfigError::Invalid { .. })
    ));
}

#[test]
fn defaults_follow_alertmanager_except_send_resolved() {
    let c = NotifyConfig::from_yaml(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - api_url: http://x\n",
    )
    .unwrap();
    assert!(
        c.receivers[0].slack_configs[0].send_resolved,
        "send_resolved defaults to true"
    );
    assert!(c.inhibit_rules.is_empty());
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "xoxb-from-file\n").unwrap();
    let yaml = format!(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - api_url: https://hooks.slack.com/services/T0/B0/SECRETPART\n      - token_file: {}\n        channel: '#x'\n",
        file.display()
    );
    let c = NotifyConfig::from_yaml(&yaml).unwrap();
    let printed = format!("{c:?}");
    assert!(!printed.contains("SECRETPART"), "{printed}");
    assert!(printed.contains("<secret>"));
    // The file-based token is read at build time; a missing file is a build error.
    let ok = notifier::Notifier::build(&c, notifier::NotifierOptions::default());
    assert!(ok.is_ok());
    std::fs::remove_file(&file).unwrap();
    let e = notifier::Notifier::build(&c, notifier::NotifierOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cannot read secret file"), "{e}");
}

#[test]
fn readme_example_parses() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```yaml\n").expect("README has a yaml example") + 8;
    let end = start + readme[start..].find("```").unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&readme[start..end]).unwrap();
    let mut notify = yaml_serde::Mapping::new();
    for key in ["route", "receivers", "inhibit_rules"] {
        notify.insert(key.into(), doc[key].clone());
    }
    let text = yaml_serde::to_string(&notify).unwrap();
    std::env::set_var("SLACK_BOT_TOKEN", "xoxb-example");
    let c = NotifyConfig::from_yaml(&text).unwrap();
    assert!(c.receivers.len() >= 2);
    assert!(!c.inhibit_rules.is_empty());
}
