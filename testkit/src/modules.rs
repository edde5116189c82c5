//! The workspace's module-circle check (`scripts/module-graph.sh`), for a
//! crate's own tests.

use std::path::Path;
use std::process::Command;

/// Runs `scripts/module-graph.sh` over the crate at `crate_dir` and panics,
/// with the graph and the circles found, unless it reports none.
pub fn assert_no_module_circles(crate_dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/module-graph.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(crate_dir)
        .output()
        .expect("run bash scripts/module-graph.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(": no circles"),
        "{} has module circles:\n{stderr}\n{stdout}",
        crate_dir.display()
    );
}
