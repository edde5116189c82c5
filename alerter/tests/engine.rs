//! The engine's scrape ingestion: target labels, the per-target line cache,
//! staleness when a series disappears or a scrape fails, and storing only
//! the metrics rules read.

use std::sync::Arc;
use std::time::Duration;

use alerter::config::{Config, Loaded};
use alerter::engine::Engine;
use alerter::promql::{parse_supported, Evaluator, Value};
use alerter::rules::{parse_rule_text, EvalEnv};
use alerter::scrape::ScrapeOutcome;
use alerter::sink::LogSink;

/// A configuration and rule groups loaded from YAML text.
fn loaded(config: &str, rules: &str) -> Loaded {
    let config = Config::parse(config, "c.yml").unwrap();
    let groups = parse_rule_text(rules, "r.yml", 15_000).unwrap();
    let targets = config.targets();
    Loaded {
        config,
        groups,
        rule_files: Vec::new(),
        targets,
    }
}

fn engine() -> Engine {
    let loaded = loaded(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1']\n        labels: {team: x}\n",
        "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: x > 100\n      - alert: Rate\n        expr: rate(c[1m]) > 100\n",
    );
    Engine::new(loaded, EvalEnv::default(), 60_000, Arc::new(LogSink), 0)
}

fn ok(body: &str) -> ScrapeOutcome {
    ScrapeOutcome {
        result: Ok(body.to_string()),
        duration: Duration::from_millis(3),
    }
}

fn query(e: &Engine, expr: &str, at: i64) -> Vec<(String, f64)> {
    let expr = parse_supported(expr).unwrap();
    match Evaluator::new(&e.storage, at).eval(&expr).unwrap() {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> = v
                .into_iter()
                .map(|s| (alerter::storage::format_labels(&s.labels), s.value))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ingests_with_target_labels_staleness_and_only_needed_metrics() {
    let mut e = engine();
    let target = e.targets[0].target.clone();
    e.ingest(
        &target,
        0,
        ok("# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"2\",job=\"inner\"} 2\nunused 3\nc 0\n"),
    );
    assert_eq!(
        query(&e, "x", 0),
        [
            (
                "x{a=\"1\", instance=\"h:1\", job=\"a\", team=\"x\"}".to_string(),
                1.0
            ),
            (
                "x{a=\"2\", exported_job=\"inner\", instance=\"h:1\", job=\"a\", team=\"x\"}"
                    .to_string(),
                2.0
            ),
        ]
    );
    assert!(
        query(&e, "unused", 0).is_empty(),
        "metrics no rule reads are not stored"
    );
    assert_eq!(e.stats.samples_not_needed, 1);
    assert_eq!(query(&e, "scrape_samples_scraped", 0)[0].1, 4.0);

    // Second scrape: cached lines, one series gone → stale at once.
    e.ingest(&target, 15_000, ok("x{a=\"1\"} 5\nc 1500\nunused 4\n"));
    assert_eq!(
        query(&e, "x", 15_000),
        [(
            "x{a=\"1\", instance=\"h:1\", job=\"a\", team=\"x\"}".to_string(),
            5.0
        )]
    );
    assert_eq!(query(&e, "rate(c[1m])", 15_000).len(), 1);

    // A malformed line fails the whole scrape: up 0, every series stale.
    e.ingest(&target, 30_000, ok("x{a=\"1\"} 6\nx{a=1} 2\n"));
    assert_eq!(query(&e, "up", 30_000)[0].1, 0.0);
    assert!(query(&e, "x", 30_000).is_empty());
    assert!(!e.targets[0].last_error.is_empty());

    // Back: up 1, series return.
    e.ingest(&target, 45_000, ok("x{a=\"1\"} 7\n"));
    assert_eq!(query(&e, "up", 45_000)[0].1, 1.0);
    assert_eq!(query(&e, "x", 45_000)[0].1, 7.0);

    // Storage keeps only the rules' windows: c is read over 1m, x only by an
    // instant selector (its newest sample).
    e.evaluate_due(45_000);
    e.ingest(&target, 200_000, ok("x{a=\"1\"} 8\nc 9000\n"));
    e.evaluate_due(200_000);
    assert_eq!(query(&e, "x", 200_000)[0].1, 8.0);
    assert!(
        e.storage.sample_count() < 20,
        "{} samples kept",
        e.storage.sample_count()
    );
}

/// Three targets scraped every 15s, a group every 15s and one every 30s.
fn scheduled_engine() -> (Engine, Loaded) {
    let loaded = loaded(
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1', 'other-host:9100', 'z:3']\n",
        "groups:\n  - name: fast\n    rules:\n      - alert: Down\n        expr: up == 0\n  - name: slow\n    interval: 30s\n    rules:\n      - alert: Gone\n        expr: absent(up)\n",
    );
    let engine = Engine::new(
        loaded.clone(),
        EvalEnv::default(),
        60_000,
        Arc::new(LogSink),
        0,
    );
    (engine, loaded)
}

#[test]
fn real_time_schedule_puts_every_evaluation_in_a_scrape_round() {
    let (mut e, loaded) = scheduled_engine();
    let anchor = 1_000_003;
    e.align_schedule(anchor);
    let mut now = anchor;
    for round in 0..6 {
        assert_eq!(e.next_due(), Some(now), "round {round}");
        assert!(e.due_targets(now - 1).is_empty(), "round {round}");
        assert_eq!(e.due_group_interval(now - 1), None, "round {round}");
        // Every target is due together, and the groups with them: the fast
        // group every round, the slow one every other round.
        assert_eq!(e.due_targets(now).len(), 3, "round {round}");
        let slow_due = round % 2 == 0;
        assert_eq!(
            e.due_group_interval(now),
            Some(15_000),
            "round {round}: the fast group is due with the scrapes"
        );
        e.evaluate_due(now + 2); // a late wake-up keeps the grid
        assert_eq!(e.groups[0].next_eval, now + 15_000);
        assert_eq!(
            e.groups[1].next_eval,
            if slow_due { now + 30_000 } else { now + 15_000 },
            "round {round}"
        );
        now += 15_000;
    }
    // A reload between rounds keeps targets and groups on the same grid,
    // and a group never runs twice in one slot.
    let reload_at = now + 7_777;
    e.apply(loaded, reload_at);
    let next = now + 15_000;
    assert!(e.targets.iter().all(|t| t.next_scrape == next));
    assert_eq!(e.groups[0].next_eval, next);
    assert_eq!(
        e.groups[1].next_eval,
        anchor + 120_000,
        "the slow group's grid"
    );
    // Holding evaluations (after a restore) also lands on the grid.
    e.hold_evaluations_until(next + 1);
    assert_eq!(e.groups[0].next_eval, next + 15_000);
    assert_eq!(e.groups[1].next_eval, anchor + 120_000);
    e.hold_evaluations_until(anchor + 120_001);
    assert_eq!(e.groups[0].next_eval, anchor + 135_000);
    assert_eq!(e.groups[1].next_eval, anchor + 150_000);
}

#[test]
fn fused_aggregation_over_range_functions_matches_the_unfused_path() {
    use alerter::storage::{labels_from, Storage};
    let mut s = Storage::new();
    for (i, (job, code)) in [
        ("a", "200"),
        ("a", "500"),
        ("b", "200"),
        ("b", "503"),
        ("c", "200"),
    ]
    .iter()
    .enumerate()
    {
        let l = labels_from([("__name__", "req_total"), ("job", job), ("code", code)]);
        for t in 0..20 {
            s.append(&l, t * 15_000, (t * (i as i64 + 3)) as f64 * 1.37);
        }
    }
    for agg in [
        "sum by (job)",
        "avg without (code)",
        "max",
        "min by (code)",
        "count by (job)",
        "quantile by (job) (0.3,",
    ] {
        let close = if agg.ends_with(',') { ")" } else { "" };
        let (fused, unfused) = if agg.ends_with(',') {
            (
                format!("{agg} rate(req_total[2m]){close}"),
                format!("{agg} (rate(req_total[2m]) * 1){close}"),
            )
        } else {
            (
                format!("{agg} (rate(req_total[2m]))"),
                format!("{agg} (rate(req_total[2m]) * 1)"),
            )
        };
        let eval = |q: &str| match Evaluator::new(&s, 240_000)
            .eval(&parse_supported(q).unwrap())
            .unwrap()
        {
            Value::Vector(v) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(eval(&fused), eval(&unfused), "{fused}");
        assert!(!eval(&fused).is_empty());
    }
    let eval = |q: &str| match Evaluator::new(&s, 240_000)
        .eval(&parse_supported(q).unwrap())
        .unwrap()
    {
        Value::Vector(v) => v,
        other => panic!("{other:?}"),
    };
    let kept = eval("rate(req_total[2m]) > 0.4");
    assert_eq!(kept, eval("(rate(req_total[2m]) * 1) > 0.4"));
    assert!(!kept.is_empty() && kept.len() < 5, "{kept:?}");
}
