//! What the registrar's rules schedule, run every second by every instance
//! (each step locks what it changes, so the first instance to get there
//! does it and the others find nothing left): reserved blocks released at
//! their time, the cart settled at its close, waitlist offers withdrawn at
//! their deadline, withheld seats reopened after their delay.

use chrono::Utc;

use super::enrollment::{promoted, rules, seats_freed};
use super::{cart, waitlist};
use crate::state::Services;
use crate::store::blocks;
use crate::store::waitlist as waitlist_store;

/// The registrar's gauges are read once in this many rounds.
const GAUGE_ROUNDS: u64 = 5;

/// One round of every scheduled step; failures are logged and retried on
/// the next round. Every [`GAUGE_ROUNDS`]th round also reads the gauges.
pub async fn tick(s: &Services, round: u64) {
    if round.is_multiple_of(GAUGE_ROUNDS) {
        read_gauges(s).await;
    }
    let phases = s.catalog.phases();
    match blocks::release_due(&s.db.primary, &rules(s, &phases)).await {
        Ok(courses) => {
            for (course, moved) in courses {
                tracing::info!(course, "reserved seats released to the open pool");
                promoted(s, course, &moved).await;
                let _ = seats_freed(s, course, None).await;
            }
        }
        Err(err) => tracing::warn!(error = %err, "could not release reserved blocks"),
    }
    if let Err(err) = cart::settle_due(s, Utc::now()).await {
        tracing::warn!(error = %err, "could not settle the cart");
    }
    if let Err(err) = waitlist::expire_due(s).await {
        tracing::warn!(error = %err, "could not withdraw expired offers");
    }
    if let Err(err) = waitlist::release_withheld(s).await {
        tracing::warn!(error = %err, "could not reopen withheld seats");
    }
}

async fn read_gauges(s: &Services) {
    let m = &s.metrics.registrar;
    match waitlist_store::gauges(&s.db.primary).await {
        Ok((cart, over, waiting, offers, withheld)) => {
            m.cart_items.set(cart);
            m.cart_over_demanded.set(over);
            m.waitlisted.set(waiting);
            m.offers_open.set(offers);
            m.seats_withheld.set(withheld);
        }
        Err(err) => tracing::warn!(error = %err, "could not read the registrar's gauges"),
    }
}
