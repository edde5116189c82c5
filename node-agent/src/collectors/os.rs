//! `os`: `node_os_info` and `node_os_version` from `<rootfs>/etc/os-release`
//! (or `<rootfs>/usr/lib/os-release`), as node_exporter's os collector.

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::{read_file, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads os-release under the root filesystem.
pub struct OsCollector {
    candidates: [PathBuf; 2],
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(OsCollector {
        candidates: [
            config.rootfs.join("etc/os-release"),
            config.rootfs.join("usr/lib/os-release"),
        ],
    }))
}

/// `KEY=value` lines; values may be single- or double-quoted, with
/// backslash escapes inside double quotes (os-release(5)).
fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, raw) = line.split_once('=')?;
            let value = if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
            {
                let mut out = String::new();
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        out.extend(chars.next());
                    } else {
                        out.push(c);
                    }
                }
                out
            } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                inner.to_string()
            } else {
                raw.to_string()
            };
            Some((key.trim().to_string(), value))
        })
        .collect()
}

/// The leading `major[.minor]` of VERSION_ID as a number (0 if none).
fn version_number(version_id: &str) -> f64 {
    let digits: String = version_id
        .chars()
        .scan(false, |seen_dot, c| match c {
            '0'..='9' => Some(c),
            '.' if !*seen_dot => {
                *seen_dot = true;
                Some(c)
            }
            _ => None,
        })
        .collect();
    digits.trim_end_matches('.').parse().unwrap_or(0.0)
}

impl Collector for OsCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = self
            .candidates
            .iter()
            .find_map(|p| read_file(p).ok())
            .ok_or_else(|| anyhow!("no os-release in {:?}", self.candidates))?;
        let fields = parse_os_release(&text);
        let get = |key: &str| {
            fields
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        const INFO: [(&str, &str); 12] = [
            ("build_id", "BUILD_ID"),
            ("id", "ID"),
            ("id_like", "ID_LIKE"),
            ("image_id", "IMAGE_ID"),
            ("image_version", "IMAGE_VERSION"),
            ("name", "NAME"),
            ("pretty_name", "PRETTY_NAME"),
            ("variant", "VARIANT"),
            ("variant_id", "VARIANT_ID"),
            ("version", "VERSION"),
            ("version_codename", "VERSION_CODENAME"),
            ("version_id", "VERSION_ID"),
        ];
        out.push_owned(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            MetricType::Gauge,
            INFO.iter().map(|(label, key)| (*label, get(key))).collect(),
            1.0,
        );
        out.push_owned(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            MetricType::Gauge,
            vec![
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            version_number(&get("VERSION_ID")),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_and_versions() {
        let f = parse_os_release("# c\nNAME=\"Debian \\\"GNU\\\"\"\nID=debian\nX='a b'\n");
        assert_eq!(f[0], ("NAME".into(), "Debian \"GNU\"".into()));
        assert_eq!(f[2], ("X".into(), "a b".into()));
        assert_eq!(version_number("20.04"), 20.04);
        assert_eq!(version_number("12"), 12.0);
        assert_eq!(version_number("3.18.4"), 3.18);
        assert_eq!(version_number("rolling"), 0.0);
    }
}
