//! No module circles in servekit (`scripts/module-graph.sh`).

#[test]
fn servekit_modules_import_each_other_without_circles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit::modules::assert_no_module_circles(root);
}
