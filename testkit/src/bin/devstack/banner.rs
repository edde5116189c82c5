//! What devstack prints once the stack is up, and `stack.json`, the same
//! facts for scripts and tests.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::Result;
use serde_json::json;

use crate::{seed, Stack};

pub fn print_seeded(s: &seed::Seeded) {
    eprintln!(
        "devstack: seeded {} courses (hot: {}), {} students, registration window {}",
        s.courses,
        s.hot_courses.join(", "),
        s.students,
        s.window
    );
}

/// Writes `<dir>/stack.json` (owner-only): where students connect and each
/// service's URL and pid.
pub fn write_state(stack: &mut Stack) -> Result<()> {
    let services: Vec<_> = stack
        .services
        .iter()
        .map(|s| json!({"name": s.name, "url": s.url(), "pid": s.pid(), "log": s.log}))
        .collect();
    let state = json!({
        "students_url": stack.students_url(),
        "inbox_url": stack.url_of("alert-inbox"),
        "mailbox": stack.smtp.as_ref().map(|m| m.mbox_path()),
        "services": services,
    });
    let path = stack.dir.join("stack.json");
    fs::write(&path, serde_json::to_vec_pretty(&state)?)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

pub fn print_banner(stack: &Stack) {
    let mut out =
        String::from("\n=== course-registration stack is up (Ctrl-C stops everything) ===\n");
    if let Some(base) = stack.students_url() {
        let no = seed::student_no(0);
        let pw = seed::password_of(&no);
        out.push_str(&format!(
            "students' URL      {base}   (the load balancer: use this one)\n\
             API docs           {base}/api-docs/openapi.json\n\
             admin token        {token}   (Authorization: Bearer <token>)\n\
             demo student       student_no {no}, password {pw}   (all demo students: demo-<student_no>)\n\
             try it:\n  \
             curl -s -c /tmp/enroll-cookies -H 'content-type: application/json' \\\n    \
             -d '{{\"student_no\":\"{no}\",\"password\":\"{pw}\"}}' {base}/api/v1/auth/login\n  \
             curl -s -b /tmp/enroll-cookies {base}/api/v1/me\n  \
             curl -s {base}/api/v1/courses\n  \
             curl -sN -b /tmp/enroll-cookies {base}/api/v1/enrollments/events   \
             (your decisions as they happen; enroll from another shell)\n",
            token = stack.admin_token,
        ));
    }
    out.push_str("for operators:\n");
    for s in &stack.services {
        let line = match s.name.as_str() {
            n if n.starts_with("enroll-server") => {
                format!("{}/readyz   (metrics: {0}/metrics)", s.url())
            }
            "haproxy" => format!("{}/   (balancer stats; metrics: {0}/metrics)", s.url()),
            "alert-inbox" => format!(
                "{}/   (alerts as they are sent; also {})",
                s.url(),
                stack.dir.join("logs/alerts.jsonl").display()
            ),
            "alerter" => format!("{}/api/v1/alerts   (metrics: {0}/metrics)", s.url()),
            "prometheus" => format!("{}/graph   (metrics: {0}/metrics)", s.url()),
            _ => format!("{}/metrics", s.url()),
        };
        out.push_str(&format!("  {:<17}{line}\n", s.name));
    }
    out.push_str(&format!("  {:<17}{}\n", "Slack", stack.slack.describe()));
    if let Some(m) = &stack.smtp {
        out.push_str(&format!(
            "  {:<17}{}   (students' mail, as sent: `less {}` or `mutt -f` it)\n",
            "mail (SMTP sink)",
            m.url(),
            m.mbox_path().display()
        ));
    }
    for (r, role) in stack.redis.iter().zip(["redis primary", "redis replica"]) {
        out.push_str(&format!("  {role:<17}{}\n", r.url()));
    }
    if let Some(s) = &stack.sentinel {
        out.push_str(&format!(
            "  {:<17}{}   (names the primary)\n",
            "redis sentinel",
            s.address()
        ));
    }
    if let Some(pg) = &stack.pg {
        out.push_str(&format!(
            "  {:<17}{}\n",
            "postgres primary",
            pg.primary.url("enroll")
        ));
        for r in &pg.replicas {
            out.push_str(&format!(
                "  {:<17}{}\n",
                "postgres replica",
                r.url("enroll")
            ));
        }
    }
    out.push_str(&format!(
        "  {:<17}{}   (stack.json: every URL and pid)\n",
        "data and logs",
        stack.dir.display()
    ));
    out.push_str(
        "type here: `stop enroll-server-2` (drained), `kill enroll-server-2` (crash), \
         `start enroll-server-2`, `status`, `help`.\n\
         Students keep being served through the balancer; an alert reaches the inbox \
         (and Slack) within about a minute, and resolves after `start`.\n",
    );
    println!("{out}");
}
