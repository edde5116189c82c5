//! No module circles in node-agent (`scripts/module-graph.sh`): the
//! collectors read [`node_agent::settings::Config`], and only the command
//! line parser knows the collector list.

#[test]
fn node_agent_modules_import_each_other_without_circles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit::modules::assert_no_module_circles(root);
}
