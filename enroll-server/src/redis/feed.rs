//! The pub/sub feed: every channel the instances talk on, and the loop that
//! follows them.
//!
//! | channel          | published by                        | payload                    |
//! |------------------|-------------------------------------|----------------------------|
//! | `sess:revoked`   | a logout ([`super::session_store`]) | the token's 32-byte digest |
//! | `seats:freed`    | a cancel, a capacity raised ([`super::control::seats_freed`]) | the course id |
//! | `tickets:decided`| the finishing script ([`super::batch::finish`]) | a batch of decisions ([`crate::ticket::encode_batch`]) |
//! | `waitlist:moved` | a freed seat's waitlist moves ([`super::control::waitlist_moved`]) | JSON moves ([`crate::events::waitlist::Move`]) |
//! | `cart:settled`   | the cart's close run, once committed ([`super::control::cart_settled`]) | when it was settled (RFC 3339) |
//!
//! Every instance follows all five on one connection ([`follow`]): it
//! drops a revoked session from its cache and ends that session's event
//! streams, forgets a course's full flag once seats are freed, hands
//! decisions to the event streams its students hold here, and tells every
//! stream it holds that the cart was settled.
//!
//! Pub/sub delivers at most once. While the feed is down the caches are
//! bypassed; whenever it is (re)joined the caches start empty and every
//! event stream is told to resync (decisions published meanwhile were
//! missed).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::retry::{Backoff, Warnings, WARN_EVERY};
use crate::cache::KnownFull;
use crate::events::TicketEvents;
use crate::session::{Digest, SessionCache};

/// A channel of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A session was logged out.
    Revoked,
    /// A course has seats again.
    Freed,
    /// A batch of tickets was decided.
    Decided,
    /// Freed seats moved waitlists.
    Waitlist,
    /// The cart's close run committed.
    Cart,
}

impl Channel {
    pub const ALL: [Self; 5] = [
        Self::Revoked,
        Self::Freed,
        Self::Decided,
        Self::Waitlist,
        Self::Cart,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Revoked => "sess:revoked",
            Self::Freed => "seats:freed",
            Self::Decided => "tickets:decided",
            Self::Waitlist => "waitlist:moved",
            Self::Cart => "cart:settled",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What the feed keeps current on this instance.
pub struct Followers {
    pub sessions: Arc<SessionCache>,
    pub full: Arc<KnownFull>,
    /// Handed every published batch of decisions.
    pub events: Arc<TicketEvents>,
}

impl Followers {
    /// Acts on one message.
    fn receive(&self, channel: Channel, payload: &[u8]) {
        match channel {
            Channel::Decided => {
                self.events.deliver(payload);
            }
            Channel::Waitlist => {
                self.events.deliver_waitlist(payload);
            }
            Channel::Cart => {
                self.events.deliver_cart(payload);
            }
            Channel::Freed => {
                let course = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|c| c.parse().ok());
                if let Some(course) = course {
                    self.full.evict(&course);
                }
            }
            Channel::Revoked => {
                if let Ok(digest) = Digest::try_from(payload) {
                    self.sessions.evict(&digest);
                    self.events.close_session(&digest);
                }
            }
        }
    }

    fn set_following(&self, following: bool) {
        self.sessions.set_following(following);
        self.full.set_following(following);
    }
}

/// Follows every [`Channel`] on one connection for as long as the process
/// runs. Resubscribes after a lost connection, [`Backoff`] apart (the
/// caches are bypassed in between; the streams are told to resync once it
/// is back), and on the new primary at once when the connection switches to
/// one (a failover followed).
pub async fn follow(redis: super::conn::RedisConn, f: Followers) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let warnings = Warnings::new(WARN_EVERY);
    let mut switches = redis.switches();
    loop {
        switches.borrow_and_update();
        // The primary in use now (after a failover, the promoted one).
        let client = redis.client();
        let ended = tokio::select! {
            ended = follow_once(&client, &f, &mut backoff, &warnings) => Some(ended),
            _ = switches.changed() => None,
        };
        f.set_following(false);
        match ended {
            // Straight to the new primary: the old one's feed ends with it.
            None => continue,
            Some(Ok(())) => {
                if let Some(left_out) = warnings.due() {
                    tracing::warn!(
                        left_out,
                        "invalidation feed lost; asking Redis for every session and full flag"
                    );
                }
            }
            Some(Err(e)) => {
                if let Some(left_out) = warnings.due() {
                    tracing::warn!(error = %e, left_out, "cannot follow the invalidation feed");
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_wait()) => {}
            _ = switches.changed() => {}
        }
    }
}

/// Subscribes to the channels (one call each: each waits for its
/// confirmation), marks the caches followed, tells the event streams to
/// resync (decisions published before now may have been missed), and acts
/// on every message until the connection ends.
async fn follow_once(
    client: &redis::Client,
    f: &Followers,
    backoff: &mut Backoff,
    warnings: &Warnings,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    for channel in Channel::ALL {
        pubsub.subscribe(channel.name()).await?;
    }
    backoff.reset();
    warnings.reset();
    f.set_following(true);
    f.events.resync_all();
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        if let Some(channel) = Channel::from_name(msg.get_channel_name()) {
            f.receive(channel, msg.get_payload_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_name(c.name()), Some(c));
        }
        assert_eq!(Channel::from_name("other"), None);
    }
}
