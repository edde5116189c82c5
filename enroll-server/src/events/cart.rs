//! The cart settled: told to every stream at once, so no page needs to
//! poll for it. At the close of the cart period one instance settles the
//! cart and publishes it on the feed once committed; every instance then
//! sends a `cart` event (`{"settled": true, "settled_at": …}`) to each
//! stream it holds. The event names no course: each page reads its own
//! cart (with what the close did with each course) and enrollments once,
//! spread over a few seconds. At most once, like decisions: the page also
//! reads its cart again on `resync` and once a little after the close.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Event, TicketEvents};

/// The event's data.
#[derive(Debug, Serialize)]
struct CartJson {
    settled: bool,
    settled_at: DateTime<Utc>,
}

/// The event's JSON for a published payload (when the cart was settled,
/// RFC 3339); `None` for an unreadable one.
fn event_json(payload: &[u8]) -> Option<String> {
    let at = std::str::from_utf8(payload).ok()?;
    let settled_at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Some(
        serde_json::to_string(&CartJson {
            settled: true,
            settled_at,
        })
        .expect("the cart event serializes"),
    )
}

impl TicketEvents {
    /// Tells every stream here that the cart was settled; returns how many
    /// events were sent.
    pub fn deliver_cart(&self, payload: &[u8]) -> usize {
        let Some(json) = event_json(payload) else {
            tracing::warn!("unreadable message on the cart channel");
            return 0;
        };
        let event = Event::Cart(json.into());
        let mut hub = self.hub();
        let mut sent = 0;
        for mine in hub.streams.values_mut() {
            sent += self.send_all(mine, &event);
        }
        hub.streams.retain(|_, mine| !mine.is_empty());
        self.sent.inc_by(sent as u64);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_says_settled_and_when() {
        let json = event_json(b"2027-02-01T09:00:00+00:00").unwrap();
        assert_eq!(
            json,
            r#"{"settled":true,"settled_at":"2027-02-01T09:00:00Z"}"#
        );
        assert_eq!(event_json(b"not a time"), None);
        assert_eq!(event_json(&[0xff]), None);
    }
}
