//! rush's modules use each other without circles: the wave's tasks share
//! their state through `wave::shared`, not through the wave's own module.

#[test]
fn modules_import_each_other_without_circles() {
    testkit::modules::assert_no_module_circles(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
}
