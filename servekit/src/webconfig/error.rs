//! A web configuration file that cannot be used, with where it went wrong.

use std::fmt;

/// A bad `--web.config.file`: the file, the 1-based line and column the
/// problem is at (0 when it is not one place, e.g. an unreadable file), and
/// the reason. Never carries a password or a password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    /// The file, as given on the command line.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// The reason.
    pub message: String,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{l}: {}", self.file, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for WebConfigError {}

/// Builds errors for one file; the position of a key is looked up in its
/// text (block-style YAML, as every example of the format is written).
pub(crate) struct At<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl At<'_> {
    /// An error at `(line, column)`.
    pub(crate) fn at(
        &self,
        (line, column): (usize, usize),
        message: impl Into<String>,
    ) -> WebConfigError {
        WebConfigError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error at the key reached by `path` (each key looked for below the
    /// previous one), or at the deepest one of them found.
    pub(crate) fn key(&self, path: &[&str], message: impl Into<String>) -> WebConfigError {
        self.at(key_position(self.text, path), message)
    }
}

/// Line and column of the key `path[last]`, found as `key:` on a line after
/// the lines of the keys before it; (0, 0) when the first is not found.
pub(crate) fn key_position(text: &str, path: &[&str]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = (0, 0);
    for key in path {
        let quoted = [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ];
        let hit = lines.iter().enumerate().skip(from).find_map(|(i, line)| {
            let body = line.trim_start();
            let body = body.strip_prefix("- ").unwrap_or(body).trim_start();
            quoted
                .iter()
                .any(|q| body.starts_with(q.as_str()))
                .then(|| (i, line.len() - body.len()))
        });
        match hit {
            Some((i, col)) => {
                found = (i + 1, col + 1);
                from = i + 1;
            }
            None => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_are_found_below_their_parents() {
        let text =
            "basic_auth_users:\n  alice: x\ntls_server_config:\n  cert_file: a\n  key_file: b\n";
        assert_eq!(
            key_position(text, &["tls_server_config", "key_file"]),
            (5, 3)
        );
        assert_eq!(key_position(text, &["basic_auth_users", "alice"]), (2, 3));
        assert_eq!(key_position(text, &["nothing"]), (0, 0));
        // A missing child points at its parent.
        assert_eq!(
            key_position(text, &["tls_server_config", "min_version"]),
            (3, 1)
        );
    }

    #[test]
    fn errors_print_as_file_line_column() {
        let at = At {
            file: "web.yml",
            text: "",
        };
        assert_eq!(at.at((3, 5), "bad").to_string(), "web.yml:3:5: bad");
        assert_eq!(at.at((3, 0), "bad").to_string(), "web.yml:3: bad");
        assert_eq!(at.at((0, 0), "bad").to_string(), "web.yml: bad");
    }
}
