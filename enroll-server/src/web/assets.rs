//! The page's files, embedded at compile time, and the release version
//! that names them.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../web/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `enroll-server/web/` the page loads, but the page.
const FILES: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/cart.js", JS),
    asset!("js/catalogue.js", JS),
    asset!("js/clock.js", JS),
    asset!("js/countdown.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/enrollments.js", JS),
    asset!("js/follow.js", JS),
    asset!("js/i18n.js", JS),
    asset!("js/messages.js", JS),
    asset!("js/stream.js", JS),
    asset!("js/tickets.js", JS),
    asset!("js/timetable.js", JS),
    asset!("js/waitlist.js", JS),
];

const PAGE: &str = include_str!("../../web/index.html");

/// The embedded files, their version and the page naming them.
pub struct Assets {
    version: String,
    page: String,
}

impl Assets {
    /// Built once per process.
    pub fn get() -> &'static Assets {
        static ASSETS: OnceLock<Assets> = OnceLock::new();
        ASSETS.get_or_init(|| {
            let version = version(PAGE.as_bytes(), FILES);
            let page = PAGE.replace("{{version}}", &version);
            Assets { version, page }
        })
    }

    /// A digest of every file: changes whenever any of them does.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `index.html` with its asset URLs versioned.
    pub fn page(&self) -> String {
        self.page.clone()
    }

    /// The file at `path` (relative to `web/`).
    pub fn file(&self, path: &str) -> Option<Asset> {
        FILES.iter().find(|a| a.path == path).copied()
    }
}

fn version(page: &[u8], files: &[Asset]) -> String {
    let mut hash = Sha256::new();
    hash.update(page);
    for f in files {
        hash.update(f.path.as_bytes());
        hash.update((f.body.len() as u64).to_le_bytes());
        hash.update(f.body);
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_embedded_assets_of_this_version() {
        let assets = Assets::get();
        let page = assets.page();
        let prefix = format!("/assets/{}/", assets.version());
        let mut named = 0;
        for part in page.split(&prefix).skip(1) {
            let path = &part[..part.find('"').unwrap()];
            assert!(assets.file(path).is_some(), "{path} is not embedded");
            named += 1;
        }
        assert!(named >= 2, "the page names its script and stylesheet");
        assert!(!page.contains("{{version}}"));
        assert!(
            !page.contains("<script>") && !page.contains("style="),
            "nothing inline"
        );
    }

    #[test]
    fn every_module_a_module_imports_is_embedded() {
        for file in FILES.iter().filter(|f| f.path.ends_with(".js")) {
            let text = std::str::from_utf8(file.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let from = line.rsplit("from ").next().unwrap();
                let name = from.trim_matches(|c| c == '\'' || c == '"' || c == ';' || c == ' ');
                let name = name.trim_start_matches("./");
                assert!(
                    Assets::get().file(&format!("js/{name}")).is_some(),
                    "{} imports {name}, which is not embedded",
                    file.path
                );
            }
        }
    }
}
