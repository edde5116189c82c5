//! The measured requests, pre-built where they repeat, and the jobs the
//! connection workers take.

use std::collections::HashMap;

use anyhow::Result;
use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use crate::conn::{check_header_text, Endpoint, Req};

/// What a connection worker does next.
pub(super) enum Job {
    Enroll {
        request: usize,
        student: usize,
        course: i64,
    },
    Poll {
        idx: usize,
    },
}

/// A job with the permit that bounds its kind's requests in flight; the
/// permit is given back once the answer is recorded.
pub(super) struct Work {
    pub(super) job: Job,
    pub(super) permit: OwnedSemaphorePermit,
}

/// The measured requests, pre-built where they repeat.
pub(super) struct Requests {
    pub(super) endpoint: Endpoint,
    /// `Cookie` header per student.
    cookies: Vec<String>,
    enroll_target: String,
    /// `{"course_id":N}` per course.
    bodies: HashMap<i64, Bytes>,
}

impl Requests {
    pub(super) fn new(
        endpoint: Endpoint,
        cookies: &[String],
        requests: &[(usize, i64)],
    ) -> Result<Self> {
        for c in cookies {
            check_header_text("session cookie", c)?;
        }
        let cookies = cookies.to_vec();
        let bodies = requests
            .iter()
            .map(|&(_, c)| (c, Bytes::from(format!("{{\"course_id\":{c}}}"))))
            .collect();
        Ok(Self {
            enroll_target: endpoint.target("/api/v1/enrollments")?,
            endpoint,
            cookies,
            bodies,
        })
    }

    /// Student `student`'s `Cookie` header.
    pub(super) fn cookie(&self, student: usize) -> &str {
        &self.cookies[student]
    }

    pub(super) fn enroll(&self, student: usize, course: i64) -> Req {
        let body = self.bodies.get(&course).map_or(&b""[..], |b| &b[..]);
        self.endpoint
            .post_json(&self.enroll_target, &self.cookies[student], body)
    }

    /// One read of several of a student's tickets.
    pub(super) fn tickets(&self, student: usize, tickets: &[&str]) -> Result<Req> {
        let target = self.endpoint.target(&format!(
            "/api/v1/enrollments/tickets?ids={}",
            tickets.join(",")
        ))?;
        Ok(self.endpoint.get(&target, &self.cookies[student]))
    }
}
