//! enroll-server's modules use each other without circles: each layer
//! (api, service, admission, redis, store, ...) only uses those below it.

#[test]
fn modules_import_each_other_without_circles() {
    testkit::modules::assert_no_module_circles(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
}
