//! `netstat`: selected protocol counters (`--collector.netstat.fields`) from
//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as untyped
//! `node_netstat_<Proto>_<Field>` like node_exporter.
//!
//! Parsed by hand: procfs-core's `Snmp`/`Snmp6` are fixed structs without the
//! `TcpExt`/`IpExt` sections of `/proc/net/netstat`, and node_exporter's
//! names come straight from the file's own headers.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use regex::Regex;

use super::{read, regex, under, Collector};
use crate::config::Config;
use crate::metrics::{MetricSet, MetricType};

/// Reads the three protocol statistics files.
pub struct NetstatCollector {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    fields: Regex,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(NetstatCollector {
        netstat: under(&config.procfs, "net/netstat"),
        snmp: under(&config.procfs, "net/snmp"),
        snmp6: under(&config.procfs, "net/snmp6"),
        fields: regex("collector.netstat.fields", &config.netstat_fields)?,
    }))
}

/// `Proto: names…` followed by `Proto: values…`, as `(Proto_Name, value)`.
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

/// `Ip6InReceives 7` lines, split after the protocol's `6`.
fn snmp6_pairs(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let key = it.next()?;
            let v: f64 = it.next()?.parse().ok()?;
            let six = key.find('6')?;
            Some((format!("{}_{}", &key[..=six], &key[six + 1..]), v))
        })
        .collect()
}

impl Collector for NetstatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut pairs = header_value_pairs(&read(&self.netstat)?)?;
        pairs.extend(header_value_pairs(&read(&self.snmp)?)?);
        // IPv6 may be disabled; node_exporter skips snmp6 then.
        if let Ok(text) = read(&self.snmp6) {
            pairs.extend(snmp6_pairs(&text));
        }
        for (key, value) in pairs {
            if !self.fields.is_match(&key) {
                continue;
            }
            let stat = key.replace('_', "");
            out.push(
                &format!("node_netstat_{key}"),
                &format!("Statistic {stat}."),
                MetricType::Untyped,
                &[],
                value,
            );
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
        let p = snmp6_pairs("Icmp6InMsgs 4\nUdpLite6InErrors 5\n");
        assert_eq!(p[0], ("Icmp6_InMsgs".to_string(), 4.0));
        assert_eq!(p[1], ("UdpLite6_InErrors".to_string(), 5.0));
    }
}
