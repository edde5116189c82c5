//! `netstat`: selected protocol counters (`--collector.netstat.fields`) from
//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as untyped
//! `node_netstat_<Proto>_<Field>` like node_exporter.
//!
//! Parsed by hand: procfs-core's `Snmp`/`Snmp6` are fixed structs without the
//! `TcpExt`/`IpExt` sections of `/proc/net/netstat`, and node_exporter's
//! names come straight from the file's own headers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{anyhow, Result};
use regex::Regex;

use super::{read, regex, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// `(column, metric name, help)` of each exported field under one header.
type Plan = Vec<(usize, String, String)>;

/// Reads the three protocol statistics files.
pub struct NetstatCollector {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    fields: Regex,
    /// Per header line (`TcpExt: SyncookiesSent …`), the column index and
    /// metric name of each exported field. Headers never change while the
    /// kernel runs, so the regex and name building happen once, not per scrape.
    plans: Mutex<HashMap<String, Plan>>,
    /// The same for snmp6's `Ip6InReceives`-style keys: metric name and help
    /// if exported.
    snmp6_plans: Mutex<HashMap<String, Option<(String, String)>>>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(NetstatCollector {
        netstat: under(&config.procfs, "net/netstat"),
        snmp: under(&config.procfs, "net/snmp"),
        snmp6: under(&config.procfs, "net/snmp6"),
        fields: regex("collector.netstat.fields", &config.netstat_fields)?,
        plans: Mutex::new(HashMap::new()),
        snmp6_plans: Mutex::new(HashMap::new()),
    }))
}

/// `Proto: names…` followed by `Proto: values…`, as `(Proto_Name, value)`.
#[cfg(test)]
fn header_value_pairs(text: &str) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let values = lines.next().ok_or_else(|| anyhow!("odd number of lines"))?;
        let (proto, names) = names
            .split_once(':')
            .ok_or_else(|| anyhow!("no protocol"))?;
        let (_, values) = values
            .split_once(':')
            .ok_or_else(|| anyhow!("no protocol"))?;
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = value.parse::<f64>() {
                out.push((format!("{proto}_{name}"), v));
            }
        }
    }
    Ok(out)
}

/// `Ip6InReceives` becomes `Ip6_InReceives`: split after the protocol's `6`.
fn snmp6_key(raw: &str) -> Option<String> {
    let six = raw.find('6')?;
    Some(format!("{}_{}", &raw[..=six], &raw[six + 1..]))
}

impl NetstatCollector {
    /// `(column, metric name, help)` of the exported fields under `header`.
    fn plan(&self, header: &str) -> Result<Plan> {
        let (proto, names) = header
            .split_once(':')
            .ok_or_else(|| anyhow!("no protocol in {header:?}"))?;
        Ok(names
            .split_whitespace()
            .enumerate()
            .filter_map(|(i, name)| {
                let key = format!("{proto}_{name}");
                self.fields.is_match(&key).then(|| {
                    let help = format!("Statistic {proto}{name}.");
                    (i, format!("node_netstat_{key}"), help)
                })
            })
            .collect())
    }

    /// Emits the header/value line pairs of `/proc/net/{netstat,snmp}`.
    fn emit_pairs(&self, text: &str, out: &mut MetricSet) -> Result<()> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = text.lines();
        while let Some(header) = lines.next() {
            let values = lines.next().ok_or_else(|| anyhow!("odd number of lines"))?;
            if !plans.contains_key(header) {
                let plan = self.plan(header)?;
                plans.insert(header.to_string(), plan);
            }
            let (_, values) = values
                .split_once(':')
                .ok_or_else(|| anyhow!("no protocol"))?;
            let values: Vec<&str> = values.split_whitespace().collect();
            for (i, name, help) in &plans[header] {
                if let Some(v) = values.get(*i).and_then(|v| v.parse::<f64>().ok()) {
                    out.push(name, help, MetricType::Untyped, &[], v);
                }
            }
        }
        Ok(())
    }
}

impl Collector for NetstatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        self.emit_pairs(&read(&self.netstat)?, out)?;
        self.emit_pairs(&read(&self.snmp)?, out)?;
        // IPv6 may be disabled; node_exporter skips snmp6 then.
        if let Ok(text) = read(&self.snmp6) {
            let mut plans = self.snmp6_plans.lock().unwrap_or_else(|e| e.into_inner());
            for line in text.lines() {
                let mut it = line.split_whitespace();
                let (Some(raw), Some(value)) = (it.next(), it.next()) else {
                    continue;
                };
                if !plans.contains_key(raw) {
                    let plan = snmp6_key(raw)
                        .filter(|key| self.fields.is_match(key))
                        .map(|key| (format!("node_netstat_{key}"), format!("Statistic {raw}.")));
                    plans.insert(raw.to_string(), plan);
                }
                if let (Some((name, help)), Ok(v)) = (&plans[raw], value.parse::<f64>()) {
                    out.push(name, help, MetricType::Untyped, &[], v);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_protocols() {
        let p = header_value_pairs("Tcp: A B\nTcp: 1 2\nUdp: C\nUdp: 3\n").unwrap();
        assert_eq!(p[1], ("Tcp_B".to_string(), 2.0));
        assert_eq!(p[2], ("Udp_C".to_string(), 3.0));
        assert_eq!(snmp6_key("Icmp6InMsgs").unwrap(), "Icmp6_InMsgs");
        assert_eq!(snmp6_key("UdpLite6InErrors").unwrap(), "UdpLite6_InErrors");
    }
}
