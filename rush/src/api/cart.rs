//! The cart's routes as `--scenario cart` uses them: the registrar's cart
//! period and the students' `POST /api/v1/cart/{course_id}`.

use anyhow::Result;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{student_answer, Api};

/// `GET /api/v1/admin/cart-period` (`null` when none was ever set).
#[derive(Debug, Clone, Deserialize)]
pub struct CartPeriod {
    pub opens_at: String,
    pub closes_at: String,
    pub policy: String,
    pub seed: i64,
    /// RFC 3339; absent until the close run committed.
    pub settled_at: Option<String>,
}

impl Api {
    /// The cart period, if one was ever set.
    pub async fn cart_period(&self) -> Result<Option<CartPeriod>> {
        let path = "/api/v1/admin/cart-period";
        let res = self
            .admin_ok(reqwest::Method::GET, path, None, "reading the cart period")
            .await?;
        Ok(res.json().await?)
    }

    /// Sets the cart period (`PUT /api/v1/admin/cart-period`); `policy` is
    /// `lottery` or `rush`.
    pub async fn set_cart_period(
        &self,
        opens_at: &str,
        closes_at: &str,
        policy: &str,
        seed: i64,
    ) -> Result<CartPeriod> {
        let body: Value =
            json!({"opens_at": opens_at, "closes_at": closes_at, "policy": policy, "seed": seed});
        let path = "/api/v1/admin/cart-period";
        let res = self
            .admin_ok(
                reqwest::Method::PUT,
                path,
                Some(&body),
                "setting the cart period",
            )
            .await?;
        Ok(res.json().await?)
    }

    /// A student's `POST /api/v1/cart/{course_id}`: the status and, unless
    /// 201, the error code.
    pub async fn add_to_cart(&self, cookie: &str, course_id: i64) -> Result<(u16, String)> {
        let req = self
            .client
            .post(format!("{}/api/v1/cart/{course_id}", self.base))
            .header(reqwest::header::COOKIE, cookie);
        student_answer(req).await
    }
}
