//! [`Config::load`]: the file, its rule files (globs resolved relative to
//! it) and its targets.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::validate::job_positions;
use super::{Config, ConfigError, Loaded, ScrapeConfig};
use crate::rules::load_rule_file;

impl Config {
    /// Reads and checks `path`, loads its rule files and resolves targets.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let mut config = Config::parse(&text, &file)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let positions = job_positions(&text);
        for (i, sc) in config.scrape_configs.iter_mut().enumerate() {
            // Checked now, so that a bad file keeps the last good config.
            let problem = resolve_client_files(sc, base).err();
            if let Some(message) = problem {
                let (line, column) = positions.get(i).copied().unwrap_or((0, 0));
                return Err(ConfigError {
                    file: file.clone(),
                    line,
                    column,
                    message: format!("job {:?}: {message}", sc.job_name),
                });
            }
        }
        let rule_files =
            resolve_globs(base, &config.rule_files).map_err(|message| ConfigError {
                file: file.clone(),
                line: 0,
                column: 0,
                message,
            })?;
        let mut groups = Vec::new();
        let mut names = HashSet::new();
        for f in &rule_files {
            let loaded =
                load_rule_file(f, config.global.evaluation_interval.millis()).map_err(|e| {
                    ConfigError {
                        file: e.file,
                        line: e.line,
                        column: e.column,
                        message: e.message,
                    }
                })?;
            for g in loaded {
                if !names.insert((g.file.clone(), g.name.clone())) {
                    continue;
                }
                groups.push(g);
            }
        }
        let targets = config.targets();
        Ok(Loaded {
            config,
            groups,
            rule_files,
            targets,
        })
    }
}

/// Makes the job's credential and certificate paths relative to `base`, and
/// checks that they can be read and used.
fn resolve_client_files(sc: &mut ScrapeConfig, base: &Path) -> Result<(), String> {
    if let Some(auth) = &mut sc.basic_auth {
        auth.password_file = auth.password_file.as_ref().map(|f| base.join(f));
        auth.password()?;
    }
    if let Some(tls) = &sc.tls_config {
        let tls = tls.relative_to(base);
        tls.client()?;
        sc.tls_config = Some(tls);
    }
    Ok(())
}

/// Expands rule-file globs relative to `base`; a plain path that does not
/// exist is kept so loading it reports the missing file.
pub fn resolve_globs(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let full = if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            base.join(p)
        };
        let mut matches: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
            .map_err(|e| format!("bad rule_files pattern {p:?}: {e}"))?
            .filter_map(Result::ok)
            .collect();
        matches.sort();
        if matches.is_empty() && !p.contains(['*', '?', '[']) {
            out.push(full);
        }
        out.extend(matches);
    }
    Ok(out)
}
