//! The enroll-server HTTP API as the tool uses it: admin set-up, login and
//! `/metrics` (through reqwest; not measured), and the parsing of the
//! measured answers (enroll, ticket polls), which [`crate::conn`] sends.
//!
//! The reqwest client ([`Api`]) is here; `answers.rs` reads the measured
//! answers, `metrics.rs` the `/metrics` page, `cart.rs` the cart's routes.

use anyhow::{bail, Context, Result};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::mix::{BlockSpec, Cohort, CourseSpec};

mod answers;
mod metrics;

pub use answers::{enroll_reply, tickets_view, EnrollReply, TicketView, TicketsView};
pub use metrics::{admission_totals, sum_metrics};

/// The cart period and the students' carts (`api/cart.rs`).
pub mod cart;

/// Password given to every generated student.
pub const PASSWORD: &str = "rush-password-123";

/// A client for one server.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    admin_token: String,
}

impl Api {
    /// `base` like `http://127.0.0.1:8080` (no trailing slash needed).
    pub fn new(base: &str, admin_token: &str, max_idle: usize) -> Result<Self> {
        let client = Client::builder()
            .pool_max_idle_per_host(max_idle)
            .timeout(std::time::Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            admin_token: admin_token.to_string(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends an admin request (`body` as JSON, if any) and insists on 200;
    /// otherwise an error saying `what` and the server's answer.
    async fn admin_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<reqwest::Response> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await?;
        let status = res.status();
        if status != StatusCode::OK {
            bail!("{what} answered {status}: {}", res.text().await?);
        }
        Ok(res)
    }

    async fn admin_post(&self, path: &str, body: &Value) -> Result<Value> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = res.status();
        let text = res.text().await?;
        if status != StatusCode::CREATED {
            bail!("POST {path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Imports students (in requests of at most 5,000) with their year and
    /// department when `cohorts` gives them (one per student), else the
    /// server's defaults; returns their ids in order.
    pub async fn import_students(
        &self,
        student_nos: &[String],
        cohorts: Option<&[Cohort]>,
    ) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(student_nos.len());
        for (k, chunk) in student_nos.chunks(5_000).enumerate() {
            let body: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, no)| {
                    let mut s = json!({"student_no": no, "name": "Rush Student", "email": format!("{no}@rush.test"), "password": PASSWORD});
                    if let Some(c) = cohorts.map(|c| &c[k * 5_000 + i]) {
                        s["year"] = json!(c.year);
                        s["department"] = json!(c.department);
                    }
                    s
                })
                .collect();
            let res = self
                .admin_post("/api/v1/admin/students", &json!(body))
                .await?;
            for s in res["students"]
                .as_array()
                .context("import answer has no students")?
            {
                ids.push(s["id"].as_i64().context("student without id")?);
            }
        }
        Ok(ids)
    }

    /// Creates courses (in requests of at most 1,000); returns their ids in order.
    pub async fn create_courses(&self, courses: &[CourseSpec]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(courses.len());
        for chunk in courses.chunks(1_000) {
            let body: Vec<Value> = chunk
                .iter()
                .map(|c| {
                    json!({"code": c.code, "name": format!("Rush {}", c.code), "department": c.department,
                       "credits": c.credits, "capacity": c.capacity,
                       "schedule": c.meetings.iter().map(|m| m.to_json()).collect::<Vec<_>>()})
                })
                .collect();
            let res = self
                .admin_post("/api/v1/admin/courses", &json!(body))
                .await?;
            for c in res.as_array().context("course answer is not an array")? {
                ids.push(c["id"].as_i64().context("course without id")?);
            }
        }
        Ok(ids)
    }

    /// Replaces a course's reserved blocks (`PATCH
    /// /api/v1/admin/courses/{id}` with `reserved`).
    pub async fn set_reserved(&self, course_id: i64, blocks: &[BlockSpec]) -> Result<()> {
        let body = json!({"reserved": blocks.iter().map(BlockSpec::to_json).collect::<Vec<_>>()});
        let path = format!("/api/v1/admin/courses/{course_id}");
        let what = format!("reserving seats in course {course_id}");
        self.admin_ok(reqwest::Method::PATCH, &path, Some(&body), &what)
            .await?;
        Ok(())
    }

    /// Every phase, as `GET /api/v1/admin/phases` shows them (which `PUT`
    /// takes back as they are).
    pub async fn phases(&self) -> Result<Value> {
        let path = "/api/v1/admin/phases";
        let res = self
            .admin_ok(reqwest::Method::GET, path, None, "listing the phases")
            .await?;
        Ok(res.json().await?)
    }

    /// Replaces every phase (`PUT /api/v1/admin/phases`).
    pub async fn set_phases(&self, phases: &Value) -> Result<()> {
        let path = "/api/v1/admin/phases";
        self.admin_ok(
            reqwest::Method::PUT,
            path,
            Some(phases),
            "setting the phases",
        )
        .await?;
        Ok(())
    }

    /// Opens the registration window unless it is open already; returns
    /// whether it had to be changed.
    pub async fn ensure_window_open(&self) -> Result<bool> {
        let now: Value = self
            .client
            .get(format!("{}/api/v1/registration-window", self.base))
            .send()
            .await?
            .json()
            .await?;
        if now["open"] == json!(true) {
            return Ok(false);
        }
        let res = self
            .client
            .put(format!("{}/api/v1/admin/registration-window", self.base))
            .bearer_auth(&self.admin_token)
            .json(&json!({"opens_at": "2000-01-01T00:00:00Z", "closes_at": "2999-01-01T00:00:00Z"}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("opening the registration window answered {}", res.status());
        }
        Ok(true)
    }

    /// Pauses or resumes admission on every instance
    /// (`PUT /api/v1/admin/admission`).
    pub async fn set_admission_paused(&self, paused: bool) -> Result<()> {
        let res = self
            .client
            .put(format!("{}/api/v1/admin/admission", self.base))
            .bearer_auth(&self.admin_token)
            .json(&json!({ "paused": paused }))
            .send()
            .await?;
        if res.status() != StatusCode::OK {
            bail!(
                "switching admission (paused = {paused}) answered {}",
                res.status()
            );
        }
        Ok(())
    }

    /// Logs a student in; returns the `name=value` of the session cookie.
    pub async fn login(&self, student_no: &str) -> Result<String> {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"student_no": student_no, "password": PASSWORD}))
            .send()
            .await?;
        if res.status() != StatusCode::OK {
            bail!("login of {student_no} answered {}", res.status());
        }
        let cookie = res
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .context("login set no cookie")?
            .to_str()?;
        Ok(cookie.split(';').next().unwrap_or_default().to_string())
    }

    /// A student's `POST /api/v1/waitlist`: the status and, unless 201,
    /// the error code.
    pub async fn join_waitlist(&self, cookie: &str, course_id: i64) -> Result<(u16, String)> {
        let req = self
            .client
            .post(format!("{}/api/v1/waitlist", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .json(&json!({ "course_id": course_id }));
        student_answer(req).await
    }

    /// A student's cancel, `DELETE /api/v1/enrollments/{course_id}`: the
    /// status and, unless 204, the error code.
    pub async fn cancel(&self, cookie: &str, course_id: i64) -> Result<(u16, String)> {
        let req = self
            .client
            .delete(format!("{}/api/v1/enrollments/{course_id}", self.base))
            .header(reqwest::header::COOKIE, cookie);
        student_answer(req).await
    }

    /// `(queue length summed over courses, admission decisions summed)` from `/metrics`.
    pub async fn queue_and_decisions(&self) -> Result<(f64, f64)> {
        Ok(sum_metrics(&self.metrics_text().await?))
    }

    /// The server's `/metrics` page.
    pub async fn metrics_text(&self) -> Result<String> {
        Ok(self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?)
    }
}

/// Sends a student's request; `(status, error code or "")`.
async fn student_answer(req: reqwest::RequestBuilder) -> Result<(u16, String)> {
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.bytes().await?;
    if status < 300 {
        return Ok((status, String::new()));
    }
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Ok((status, code))
}
