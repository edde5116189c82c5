//! `--scenario cart`: the pre-registration cart before the rush. A cart
//! period opens with the lottery (or `rush`) policy and `--seed` as the
//! draw's seed; `--cart-share` of the students put every course they will
//! ask for in the rush in their cart; the period closes, the server
//! settles it (one transaction), and the usual rush follows.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::api::Api;
use crate::check::cart::CartEvent;
use crate::churn::picked;
use crate::mix::{Kind, Mix};

/// Cart items added at once.
const CONCURRENCY: usize = 64;
/// How often the close is looked for.
const POLL: Duration = Duration::from_millis(10);
/// Longest wait for the server to settle the cart.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How the carts are filled and closed.
#[derive(Debug, Clone, Copy)]
pub struct CartParams {
    /// Share of the students who fill a cart.
    pub share: f64,
    /// Over-demanded courses drawn by lottery (else left to the rush).
    pub lottery: bool,
    /// The draw's seed (published by the server).
    pub seed: i64,
}

/// What the cart period did.
#[derive(Debug, Clone)]
pub struct CartOutcome {
    /// `(student index, course index)` answered 201.
    pub items: Vec<(usize, usize)>,
    pub params: CartParams,
    pub figures: CartFigures,
}

/// The cart's figures, as printed and in `rush-results.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CartFigures {
    pub policy: String,
    pub seed: i64,
    /// Students who filled a cart, and the items they put in.
    pub carts: usize,
    pub items: usize,
    /// Cart items added per second while the carts were filled.
    pub items_per_sec: f64,
    /// Courses in some cart: every eligible student seated, drawn, or
    /// given no cart seat (over-demanded under `rush`, or nobody eligible).
    pub courses_by_fit: usize,
    pub courses_by_lottery: usize,
    pub courses_left_to_rush: usize,
    /// `cart_enrolled` rows, of the rush courses' seats.
    pub seats_filled: usize,
    pub seats: i64,
    /// `cart_skipped` rows (credit limit, clash).
    pub skipped: usize,
    /// The close (`closes_at` set to now) → the tool seeing it settled.
    pub close_to_settled_ms: f64,
    /// The close run's transaction start (its audit rows' time) → the tool
    /// seeing it committed (polled every 10 ms, so up to that much more).
    pub settle_ms: f64,
}

impl CartFigures {
    /// The summary table's rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        vec![
            (
                "carts (items)".into(),
                format!(
                    "{} ({}, {:.0} added/s)",
                    self.carts, self.items, self.items_per_sec
                ),
            ),
            (
                "courses settled at close".into(),
                format!(
                    "{} by fit, {} by lottery (seed {}), {} left to the rush",
                    self.courses_by_fit,
                    self.courses_by_lottery,
                    self.seed,
                    self.courses_left_to_rush
                ),
            ),
            (
                "seats filled at close".into(),
                format!(
                    "{} of {} ({:.1} %), {} cart entries skipped",
                    self.seats_filled,
                    self.seats,
                    100.0 * self.seats_filled as f64 / self.seats.max(1) as f64,
                    self.skipped
                ),
            ),
            (
                "settle time".into(),
                format!(
                    "{:.0} ms  (transaction start -> seen committed; {:.0} ms from the close)",
                    self.settle_ms, self.close_to_settled_ms
                ),
            ),
        ]
    }
}

/// The cart period settles once per database: refuses a server whose
/// cart period was ever set (settled, or pending with other students'
/// carts in it), saying why.
pub async fn refuse_used_cart(api: &Api) -> Result<()> {
    match api.cart_period().await? {
        None => Ok(()),
        Some(p) => match p.settled_at {
            Some(at) => bail!(
                "--scenario cart: this server's cart period was settled at {at}; a cart settles \
                 once per database, so the scenario needs a fresh one (or rush's own stack, \
                 without --target)"
            ),
            None => bail!(
                "--scenario cart: this server has a cart period ({} to {}, policy {}) not yet \
                 settled; the scenario would replace it and settle every student's cart: run it \
                 on a database of its own (or rush's own stack, without --target)",
                p.opens_at,
                p.closes_at,
                p.policy
            ),
        },
    }
}

/// Opens the cart period, fills the carts, closes it and waits until the
/// server settled it; reads the figures from the audit trail.
pub async fn fill_and_settle(
    api: &Api,
    pool: &sqlx::PgPool,
    mix: &Mix,
    course_ids: &[i64],
    cookies: &[String],
    params: CartParams,
) -> Result<CartOutcome> {
    let policy = if params.lottery { "lottery" } else { "rush" };
    let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let opens_at = at(Utc::now() - chrono::Duration::minutes(1));
    let far = at(Utc::now() + chrono::Duration::days(1));
    api.set_cart_period(&opens_at, &far, policy, params.seed)
        .await?;
    let wanted: Vec<(usize, usize)> = mix
        .rush
        .iter()
        .copied()
        .filter(|&(s, _)| picked(params.seed as u64, 3, s, 0, params.share))
        .collect();
    eprintln!(
        "cart period open ({policy}, seed {}): {} items into carts, {CONCURRENCY} at once ...",
        params.seed,
        wanted.len()
    );
    let started = Instant::now();
    let answers: Vec<Result<(u16, String)>> = futures::stream::iter(&wanted)
        .map(|&(s, c)| api.add_to_cart(&cookies[s], course_ids[c]))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let fill_seconds = started.elapsed().as_secs_f64();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut items = Vec::new();
    for (&item, answer) in wanted.iter().zip(answers) {
        match answer {
            Ok((201, _)) => items.push(item),
            Ok((status, code)) => *refused.entry(format!("{status} {code}")).or_default() += 1,
            Err(e) => *refused.entry(format!("error {e:#}")).or_default() += 1,
        }
    }
    if !refused.is_empty() {
        bail!("cart set-up failed: {refused:?}");
    }
    let closed_at = Utc::now();
    api.set_cart_period(&opens_at, &at(closed_at), policy, params.seed)
        .await?;
    let seen = wait_settled(api).await?;
    let events = read_events(pool, course_ids).await?;
    let started_ms: Option<f64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM min(at)) * 1000)::float8 FROM enrollment_events \
         WHERE kind IN ('cart_enrolled', 'cart_skipped', 'lottery_drawn') AND course_id = ANY($1)",
    )
    .bind(course_ids)
    .fetch_one(pool)
    .await?;
    let seen_ms = seen.timestamp_millis() as f64;
    let mut figures = figures(mix, &items, &events);
    figures.policy = policy.into();
    figures.seed = params.seed;
    figures.items_per_sec = items.len() as f64 / fill_seconds.max(1e-9);
    figures.close_to_settled_ms = seen_ms - closed_at.timestamp_millis() as f64;
    figures.settle_ms = started_ms.map_or(0.0, |s| seen_ms - s);
    Ok(CartOutcome {
        items,
        params,
        figures,
    })
}

/// Polls the cart period until it is settled; when the tool saw it so.
async fn wait_settled(api: &Api) -> Result<chrono::DateTime<Utc>> {
    let started = Instant::now();
    loop {
        let period = api
            .cart_period()
            .await?
            .context("the cart period vanished")?;
        if period.settled_at.is_some() {
            return Ok(Utc::now());
        }
        if started.elapsed() > SETTLE_TIMEOUT {
            bail!(
                "the server did not settle the cart within {} s of its close",
                SETTLE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The close's audit rows for the rush's courses.
pub async fn read_events(pool: &sqlx::PgPool, course_ids: &[i64]) -> Result<Vec<CartEvent>> {
    Ok(sqlx::query_as(
        "SELECT kind, student_id, course_id, reason, detail::text FROM enrollment_events \
         WHERE kind IN ('cart_enrolled', 'cart_skipped', 'lottery_drawn') AND course_id = ANY($1) \
         ORDER BY id",
    )
    .bind(course_ids)
    .fetch_all(pool)
    .await?)
}

/// The figures the audit trail gives.
fn figures(mix: &Mix, items: &[(usize, usize)], events: &[CartEvent]) -> CartFigures {
    let kind = |k: &'static str| events.iter().filter(move |e| e.0 == k);
    let drawn: BTreeSet<i64> = kind("lottery_drawn").filter_map(|e| e.2).collect();
    let fit: BTreeSet<i64> = kind("cart_enrolled")
        .filter_map(|e| e.2)
        .filter(|c| !drawn.contains(c))
        .collect();
    let in_carts: BTreeSet<usize> = items.iter().map(|&(_, c)| c).collect();
    CartFigures {
        carts: items.iter().map(|&(s, _)| s).collect::<BTreeSet<_>>().len(),
        items: items.len(),
        courses_by_fit: fit.len(),
        courses_by_lottery: drawn.len(),
        courses_left_to_rush: in_carts.len().saturating_sub(fit.len() + drawn.len()),
        seats_filled: kind("cart_enrolled").count(),
        seats: mix
            .courses
            .iter()
            .filter(|c| matches!(c.kind, Kind::Hot { .. } | Kind::Normal { .. }))
            .map(|c| c.capacity as i64)
            .sum(),
        skipped: kind("cart_skipped").count(),
        ..CartFigures::default()
    }
}

impl CartOutcome {
    /// The carts as invariant 9 re-derives the close from them.
    pub fn carts<'a>(&'a self, student_nos: &'a [String]) -> crate::check::cart::Carts<'a> {
        crate::check::cart::Carts {
            items: &self.items,
            student_nos,
            seed: self.params.seed,
            lottery: self.params.lottery,
        }
    }
}
