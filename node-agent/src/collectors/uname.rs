//! `uname`: `node_uname_info`, the labels Grafana's Node Exporter Full
//! dashboard builds its host variables from. Comes from uname(2), so it
//! describes the running kernel whatever `--path.procfs` says (as in
//! node_exporter).

use std::ffi::CStr;

use anyhow::{bail, Result};

use super::Collector;
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Calls uname(2).
pub struct UnameCollector;

/// Builds the collector.
pub fn build(_config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(UnameCollector))
}

fn field(raw: &[libc::c_char]) -> String {
    // SAFETY: uname(2) NUL-terminates each field within its array.
    unsafe { CStr::from_ptr(raw.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Collector for UnameCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        // SAFETY: utsname is plain data; uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            bail!("uname: {}", std::io::Error::last_os_error());
        }
        out.push_owned(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            MetricType::Gauge,
            vec![
                ("domainname", field(&u.domainname)),
                ("machine", field(&u.machine)),
                ("nodename", field(&u.nodename)),
                ("release", field(&u.release)),
                ("sysname", field(&u.sysname)),
                ("version", field(&u.version)),
            ],
            1.0,
        );
        Ok(())
    }
}
