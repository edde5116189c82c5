//! No module circles in the alerter or the notifier: `scripts/module-graph.sh`
//! lists each crate's intra-crate imports and fails on a circle (the PromQL
//! evaluator's recursion through its parts is allowed).

use std::path::Path;
use std::process::Command;

fn check(krate: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    testkit::modules::assert_no_module_circles(&root.join(krate));
}

#[test]
fn alerter_modules_import_each_other_without_circles() {
    check("alerter");
}

#[test]
fn notifier_modules_import_each_other_without_circles() {
    check("notifier");
}

/// The checker itself finds a circle and honours the allow-list.
#[test]
fn the_checker_reports_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("demo/src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod x;\npub use x::X;\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "use crate::b::B;\npub struct X;\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::a::X;\npub struct B;\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/module-graph.sh");
    let run = |extra: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .arg(dir.path().join("demo"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a::x -> b"), "{stderr}");
    assert!(stderr.contains("b -> a::x"), "{stderr}");
    let allowed = run(&["--allow", "a", "--allow", "b"]);
    assert_eq!(
        allowed.status.code(),
        Some(1),
        "a circle across two allowed prefixes still fails"
    );
}
