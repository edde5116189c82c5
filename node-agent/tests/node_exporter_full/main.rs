//! The Node Exporter Full dashboard (grafana.com id 1860) over node-agent and
//! over node_exporter side by side, through a real Prometheus: every panel
//! query that returns data for node_exporter must return data for
//! node-agent. Both counts are printed.
//!
//! Where the dashboard comes from is in `source.rs` (never from this
//! repository). When it cannot be had, the test says why and checks the
//! families the dashboard uses (`families.rs`) instead, the same way.
//!
//! Needs Debian's `prometheus` and `prometheus-node-exporter`
//! (scripts/install-deps.sh); skips with a notice without them.

mod families;
mod fetch_script;
mod queries;
mod source;
mod stack;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use families::NODE_EXPORTER_FULL_FAMILIES;
use queries::{concrete, fixed_variables, panel_queries, Query};
use stack::{prometheus_bin, Stack, AGENT_JOB, EXPORTER_JOB};

/// `$__rate_interval`: Grafana's is 4 scrape intervals at least; a minute
/// of 1 s scrapes is always enough for a rate once two samples are in.
const RATE_INTERVAL: &str = "1m";
/// How long a query that has data for node_exporter only is retried (a
/// rate whose second sample is not in yet, a gauge that was briefly 0).
const SETTLE: Duration = Duration::from_secs(30);

/// Per job: whether each (concrete) query returned data.
#[derive(Default)]
struct Outcome {
    data: BTreeSet<usize>,
    refused: BTreeMap<usize, String>,
}

/// The variables of one job: `$job`, `$node` (its instance), `$nodename`,
/// and the dashboard's fixed ones.
fn variables(stack: &Stack, dashboard: &serde_json::Value, job: &str) -> BTreeMap<String, String> {
    let mut vars = fixed_variables(dashboard);
    vars.insert("job".into(), job.into());
    vars.insert("node".into(), stack.instance(job));
    vars.insert("nodename".into(), stack.uname_label(job, "nodename"));
    vars
}

/// Runs `exprs[i]` for each `i` in `which`, recording data and refusals.
fn run(stack: &Stack, exprs: &[String], which: impl Iterator<Item = usize>, out: &mut Outcome) {
    for i in which {
        match stack.query(&exprs[i]) {
            Ok(r) if !r.is_empty() => {
                out.data.insert(i);
                out.refused.remove(&i);
            }
            Ok(_) => {}
            Err(e) => {
                out.refused.insert(i, e);
            }
        }
    }
}

/// Evaluates `agent_exprs[i]` / `exporter_exprs[i]` (the same query for each
/// job), retrying those with data for node_exporter only until `SETTLE`.
fn compare(stack: &Stack, agent_exprs: &[String], exporter_exprs: &[String]) -> (Outcome, Outcome) {
    let all = 0..agent_exprs.len();
    let (mut agent, mut exporter) = (Outcome::default(), Outcome::default());
    run(stack, exporter_exprs, all.clone(), &mut exporter);
    run(stack, agent_exprs, all, &mut agent);
    let start = Instant::now();
    loop {
        let pending: Vec<usize> = exporter.data.difference(&agent.data).copied().collect();
        if pending.is_empty() || start.elapsed() > SETTLE {
            return (agent, exporter);
        }
        std::thread::sleep(Duration::from_millis(500));
        run(stack, agent_exprs, pending.into_iter(), &mut agent);
    }
}

fn check_dashboard(stack: &Stack, dashboard: &source::Dashboard) {
    let queries: Vec<Query> = panel_queries(&dashboard.json);
    assert!(
        queries.len() > 100,
        "only {} panel queries: not the dashboard?",
        queries.len()
    );
    let mut unknown = Vec::new();
    let mut exprs = |job: &str| -> Vec<String> {
        let vars = variables(stack, &dashboard.json, job);
        queries
            .iter()
            .map(|q| concrete(&q.expr, &vars, RATE_INTERVAL, &mut unknown))
            .collect()
    };
    let (agent_exprs, exporter_exprs) = (exprs(AGENT_JOB), exprs(EXPORTER_JOB));
    let (agent, exporter) = compare(stack, &agent_exprs, &exporter_exprs);

    println!("Node Exporter Full from {}", dashboard.origin);
    println!(
        "{} panel queries: data for node_exporter {}, for node-agent {}",
        queries.len(),
        exporter.data.len(),
        agent.data.len()
    );
    unknown.sort();
    unknown.dedup();
    if !unknown.is_empty() {
        println!("variables replaced with .*: {unknown:?}");
    }
    for (i, e) in &exporter.refused {
        println!(
            "refused by Prometheus (both jobs alike): {e}: {}",
            exporter_exprs[*i]
        );
    }
    let only_agent: Vec<&Query> = agent
        .data
        .difference(&exporter.data)
        .map(|i| &queries[*i])
        .collect();
    for q in &only_agent {
        println!("data for node-agent only: [{}] {}", q.panel, q.expr);
    }
    let only_exporter: Vec<String> = exporter
        .data
        .difference(&agent.data)
        .map(|i| format!("[{}] {}", queries[*i].panel, agent_exprs[*i]))
        .collect();
    assert!(
        only_exporter.is_empty(),
        "{} Node Exporter Full queries have data for node_exporter but not for node-agent:\n{}",
        only_exporter.len(),
        only_exporter.join("\n")
    );
    assert_eq!(
        agent.refused.len(),
        exporter.refused.len(),
        "Prometheus refused different queries for the two jobs"
    );
}

/// The fallback: each family the dashboard uses, present for node_exporter
/// through Prometheus, must be present for node-agent.
fn check_families(stack: &Stack) {
    let expr = |job: &str| -> Vec<String> {
        NODE_EXPORTER_FULL_FAMILIES
            .iter()
            .map(|f| format!("count({{__name__=\"{f}\", job=\"{job}\"}})"))
            .collect()
    };
    let (agent, exporter) = compare(stack, &expr(AGENT_JOB), &expr(EXPORTER_JOB));
    println!(
        "{} Node Exporter Full families (committed list): present for node_exporter {}, for node-agent {}",
        NODE_EXPORTER_FULL_FAMILIES.len(),
        exporter.data.len(),
        agent.data.len()
    );
    let only_exporter: Vec<&str> = exporter
        .data
        .difference(&agent.data)
        .map(|i| NODE_EXPORTER_FULL_FAMILIES[*i])
        .collect();
    assert!(
        only_exporter.is_empty(),
        "dashboard families node_exporter has and node-agent lacks: {only_exporter:?}"
    );
    assert!(agent.refused.is_empty(), "{:?}", agent.refused);
}

#[test]
fn node_exporter_full_queries_with_data_for_node_exporter_have_data_for_node_agent() {
    let Some(node_exporter) = node_exporter_bin() else {
        return;
    };
    let Some(prometheus) = prometheus_bin() else {
        return;
    };
    let dashboard = source::obtain();
    let stack = Stack::start(&prometheus, node_exporter);
    // Three scrapes each: every rate over the last minute has two samples.
    stack.wait_scraped(3);
    match dashboard {
        Ok(d) => {
            println!("PATH: panel queries of the dashboard");
            check_dashboard(&stack, &d);
        }
        Err(reasons) => {
            println!("NOTICE: Node Exporter Full could not be had:");
            for r in &reasons {
                println!("  {r}");
            }
            println!(
                "PATH: the committed family list instead (set {}=<path or URL> to run the panel queries, e.g. {})",
                source::ENV,
                source::GRAFANA_COM
            );
            check_families(&stack);
        }
    }
}

fn node_exporter_bin() -> Option<&'static str> {
    let bin = "/usr/bin/prometheus-node-exporter";
    if std::path::Path::new(bin).exists() {
        Some(bin)
    } else {
        eprintln!("NOTICE: {bin} is not installed; skipping");
        None
    }
}
