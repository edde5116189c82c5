//! A dying target: one InstanceDown message across a restart, then the
//! resolution.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use alerter::engine::to_datetime;

use crate::harness::*;

#[tokio::test]
async fn instance_down_reaches_slack_once_across_a_restart_and_resolves() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut target = FakeTarget::start(free_addr()).await;
    let instance = target.addr.to_string();
    write_config(dir.path(), &instance, &slack.url("T1"), "10s");
    let run = Running::start(dir.path(), T0).await;
    run.step(T0).await;
    target.stop().await;
    for i in 1..=4 {
        run.step(T0 + i * STEP).await; // down from T0+15s, firing at T0+45s
    }
    let down_title = format!("InstanceDown {instance}");
    let fired = slack.titles("T1", &down_title);
    assert_eq!(fired.len(), 1, "exactly one message: {fired:?}");
    let msg = &fired[0];
    assert!(msg["text"]
        .as_str()
        .unwrap()
        .contains(&format!("[FIRING:1] {down_title}")));
    let blocks = msg["attachments"][0]["blocks"].to_string();
    assert!(
        blocks.contains(&format!("Instance {instance} down")),
        "{blocks}"
    );
    assert!(
        blocks.contains("has been down for more than 30 seconds"),
        "{blocks}"
    );
    assert!(
        blocks.contains("https://runbooks.example/InstanceDown"),
        "{blocks}"
    );
    assert!(blocks.contains("critical"), "{blocks}");
    assert_eq!(msg["attachments"][0]["color"], "#d00000", "{msg}");
    let before = run.alert_states().await;
    assert_eq!(
        before,
        vec![
            ("InstanceDown".into(), "firing".into(), iso(T0 + STEP)),
            ("InstanceDownLong".into(), "pending".into(), iso(T0 + STEP)),
        ]
    );
    assert_private_state(&run.data);
    run.stop().await;

    // The whole alerter restarts a minute later from its data directory.
    let restart = T0 + 8 * STEP;
    let run = Running::start(dir.path(), restart).await;
    let states = run.alert_states().await;
    assert_eq!(states[0], before[0], "firing again at once, same activeAt");
    // Pending since T0+15s, saved at T0+60s (45s spent), down 60s: the
    // `for` timer resumes with 4m15s to go.
    let resumed_active_at = T0 + STEP + 4 * STEP;
    assert_eq!(
        states[1],
        (
            "InstanceDownLong".into(),
            "pending".into(),
            iso(resumed_active_at)
        )
    );
    let mut t = restart;
    while t < resumed_active_at + 300_000 - STEP {
        run.step(t).await;
        t += STEP;
    }
    assert_eq!(
        run.alert_states().await[1].1,
        "pending",
        "not before for has passed"
    );
    run.step(resumed_active_at + 300_000).await;
    assert_eq!(run.alert_states().await[1].1, "firing");
    let down = slack.titles("T1", &down_title);
    assert_eq!(down.len(), 1, "no duplicate after the restart: {down:?}");
    let held = run.get("/api/v2/alerts").await;
    let held = held
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "InstanceDown")
        .cloned()
        .unwrap();
    assert_eq!(
        held["startsAt"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        to_datetime(T0 + 3 * STEP),
        "same startsAt (when it started firing)"
    );

    // The target comes back: one resolved message.
    let _target = FakeTarget::start(target.addr).await;
    let back = t + STEP;
    for i in 0..6 {
        run.step(back + i * STEP).await;
    }
    let resolved = slack.titles("T1", &format!("[RESOLVED:1] {down_title}"));
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["attachments"][0]["color"], "#2eb886");
    assert_eq!(
        slack.titles("T1", &down_title).len(),
        2,
        "firing once, resolved once"
    );
    run.stop().await;
}

/// Both state files are the owner's only (0600), in a 0700 directory.
fn assert_private_state(data: &Path) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data), 0o700, "{}", data.display());
    for file in ["alerts-state.json", "notifier-state.json"] {
        let path = data.join(file);
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
