//! `sockstat`: socket counts from `/proc/net/sockstat` and `sockstat6`
//! (procfs-core has no sockstat type).

use std::path::PathBuf;

use anyhow::Result;

use super::{page_size, read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads `/proc/net/sockstat{,6}`.
pub struct SockstatCollector {
    v4: PathBuf,
    v6: PathBuf,
    page_size: f64,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(SockstatCollector {
        v4: under(&config.procfs, "net/sockstat"),
        v6: under(&config.procfs, "net/sockstat6"),
        page_size: page_size() as f64,
    }))
}

impl SockstatCollector {
    fn emit(&self, text: &str, out: &mut MetricSet) {
        for line in text.lines() {
            let Some((proto, rest)) = line.split_once(':') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            for pair in fields.chunks(2) {
                let [key, value] = pair else { continue };
                let Ok(v) = value.parse::<f64>() else {
                    continue;
                };
                if proto == "sockets" {
                    if *key == "used" {
                        out.gauge(
                            "node_sockstat_sockets_used",
                            "Number of IPv4 sockets in use.",
                            v,
                        );
                    }
                    continue;
                }
                let name = format!("node_sockstat_{proto}_{key}");
                out.gauge(
                    &name,
                    &format!("Number of {proto} sockets in state {key}."),
                    v,
                );
                // `mem` is counted in pages; node_exporter adds it in bytes.
                if *key == "mem" {
                    out.gauge(
                        &format!("{name}_bytes"),
                        &format!("Number of {proto} sockets in state mem_bytes."),
                        v * self.page_size,
                    );
                }
            }
        }
    }
}

impl Collector for SockstatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        self.emit(&read(&self.v4)?, out);
        // IPv6 may be disabled; node_exporter skips the file then.
        if let Ok(text) = read(&self.v6) {
            self.emit(&text, out);
        }
        Ok(())
    }
}
