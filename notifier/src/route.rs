//! The routing tree with inherited options resolved, and Alertmanager's
//! matching rule: depth first, first matching child wins unless it has
//! `continue: true`; a node none of whose children match takes the alert.

use crate::alert::LabelSet;
use crate::config::{self, Route};
use crate::duration::PromDuration;
use crate::matcher::{all_match, Matcher};
use chrono::Duration;

/// Which labels form a group.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GroupBy {
    /// `['...']`: every label, i.e. one group per alert.
    All,
    /// These labels (possibly none: one group for the route).
    Labels(Vec<String>),
}

/// A route with every option resolved.
#[derive(Clone, Debug)]
pub(crate) struct RouteNode {
    /// Stable id: the parent's id, `/`, the matchers and the sibling index.
    pub id: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// Named time intervals that mute this route (its own, not inherited).
    pub mute_time_intervals: Vec<String>,
    /// Named time intervals outside which this route is muted (none:
    /// always active; its own, not inherited).
    pub active_time_intervals: Vec<String>,
    matchers: Vec<Matcher>,
    continue_matching: bool,
    children: Vec<RouteNode>,
}

fn or_default(value: Option<PromDuration>, parent: Option<Duration>, default: &str) -> Duration {
    value
        .map(PromDuration::chrono)
        .or(parent)
        .unwrap_or_else(|| {
            PromDuration::parse(default)
                .expect("built-in default durations parse")
                .chrono()
        })
}

impl RouteNode {
    /// Resolves the root route (validated config assumed).
    pub fn compile(root: &Route) -> RouteNode {
        Self::compile_child(root, None, "{}".to_string())
    }

    fn compile_child(route: &Route, parent: Option<&RouteNode>, id: String) -> RouteNode {
        let group_by = match &route.group_by {
            Some(labels) if labels.iter().any(|l| l == "...") => GroupBy::All,
            Some(labels) => GroupBy::Labels(labels.clone()),
            None => parent.map_or(GroupBy::Labels(Vec::new()), |p| p.group_by.clone()),
        };
        let mut node = RouteNode {
            receiver: route
                .receiver
                .clone()
                .or_else(|| parent.map(|p| p.receiver.clone()))
                .unwrap_or_default(),
            group_by,
            group_wait: or_default(
                route.group_wait,
                parent.map(|p| p.group_wait),
                config::DEFAULT_GROUP_WAIT,
            ),
            group_interval: or_default(
                route.group_interval,
                parent.map(|p| p.group_interval),
                config::DEFAULT_GROUP_INTERVAL,
            ),
            repeat_interval: or_default(
                route.repeat_interval,
                parent.map(|p| p.repeat_interval),
                config::DEFAULT_REPEAT_INTERVAL,
            ),
            mute_time_intervals: route.mute_time_intervals.clone(),
            active_time_intervals: route.active_time_intervals.clone(),
            matchers: route.matchers.clone(),
            continue_matching: route.continue_matching,
            children: Vec::new(),
            id,
        };
        node.children = route
            .routes
            .iter()
            .enumerate()
            .map(|(i, child)| {
                let matchers: Vec<String> = child.matchers.iter().map(|m| m.to_string()).collect();
                let id = format!("{}/{{{}}}/{i}", node.id, matchers.join(","));
                Self::compile_child(child, Some(&node), id)
            })
            .collect();
        node
    }

    /// Every route that takes an alert with these labels.
    pub fn matching<'a>(&'a self, labels: &LabelSet) -> Vec<&'a RouteNode> {
        if !all_match(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.children {
            let found = child.matching(labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// This node and all its descendants.
    pub fn all(&self) -> Vec<&RouteNode> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.all());
        }
        out
    }

    /// The labels of `labels` that key this route's groups.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// Group key as Alertmanager forms it: route id, `:`, group labels.
    pub fn group_key(&self, group_labels: &LabelSet) -> String {
        let labels: Vec<String> = group_labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}:{{{}}}", self.id, labels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NotifyConfig;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const YAML: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      group_by: ['...']
    - matchers: ['team=~"db|storage"']
      receiver: db
      repeat_interval: 1h
    - matchers: ['team="web"']
      receiver: web
receivers:
  - name: default
  - name: pager
  - name: db
  - name: web
"#;

    #[test]
    fn continue_and_first_match_and_inheritance() {
        let config = NotifyConfig::from_yaml(YAML).unwrap();
        let root = RouteNode::compile(&config.route);
        let names = |l: &LabelSet| -> Vec<String> {
            root.matching(l)
                .iter()
                .map(|r| r.receiver.clone())
                .collect()
        };
        assert_eq!(
            names(&labels(&[("severity", "critical"), ("team", "db")])),
            ["pager", "db"]
        );
        assert_eq!(names(&labels(&[("team", "web")])), ["web"]);
        assert_eq!(names(&labels(&[("team", "other")])), ["default"]);
        let db = root.matching(&labels(&[("team", "db")]))[0];
        assert_eq!(db.group_wait, Duration::seconds(10));
        assert_eq!(db.repeat_interval, Duration::hours(1));
        assert_eq!(db.group_interval, Duration::minutes(5));
        assert_eq!(db.group_by, GroupBy::Labels(vec!["alertname".into()]));
        let pager = root.matching(&labels(&[("severity", "critical")]))[0];
        assert_eq!(pager.group_by, GroupBy::All);
    }
}
