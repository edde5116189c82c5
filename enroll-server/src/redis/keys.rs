//! Every Redis key name the server uses, built in one place.
//!
//! Keys of course 42 all carry the hash tag `{c42}`, so every script touches
//! one slot and the same code runs on Redis Cluster:
//!
//! | key          | type   | holds                                              |
//! |--------------|--------|----------------------------------------------------|
//! | `q:{c42}`    | ZSET   | waiting students, scored by their sequence number  |
//! | `seq:{c42}`  | string | last sequence number handed out (`INCR`)           |
//! | `st:{c42}`   | HASH   | student id → their latest ticket's sequence number |
//! | `tk:{c42}`   | HASH   | sequence number → the ticket ([`crate::ticket::StoredTicket`]) |
//! | `full:{c42}` | string | present while the course is known to be full       |
//! | `gen:{c42}`  | string | bumped when seats are freed (cancel, more capacity)|
//! | `lease:{c42}`| string | the admission worker deciding this course (PX TTL) |
//! | `claim:{c42}`| string | set while a batch is being decided (crash marker)  |
//! | `pace:{c42}` | string | how fast the line moves ([`crate::pace::Pace`])    |
//! | `done:{c42}` | ZSET   | decided tickets' sequence numbers, by decision time |
//!
//! Besides: `sess:<sha256 hex>` (a session), `sessions:{s<id>}` (a student's
//! sessions), `fair:{s<id>}:<limit>:<window>` and `open:{s<id>}` (fair use),
//! `login:{l<addr>}` and `login:{l<addr>}:<student no>` (login attempts),
//! `alogin:{a<addr>}` and `alogin:{a<addr>}:<username>` (admins' login
//! attempts),
//! `admission:paused` (the admin's pause switch), `deployment` (whose data
//! this is: see [`crate::redis::deployment`]).

use crate::session::Digest;

/// One of a course's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CourseKey {
    Queue,
    Seq,
    StudentTicket,
    Tickets,
    Full,
    Gen,
    Lease,
    Claim,
    Pace,
    Done,
    /// Where each queued ticket's request came from, for the audit trail.
    Addrs,
}

impl CourseKey {
    fn prefix(self) -> &'static str {
        match self {
            Self::Queue => "q:",
            Self::Seq => "seq:",
            Self::StudentTicket => "st:",
            Self::Tickets => "tk:",
            Self::Full => "full:",
            Self::Gen => "gen:",
            Self::Lease => "lease:",
            Self::Claim => "claim:",
            Self::Pace => "pace:",
            Self::Done => "done:",
            Self::Addrs => "addr:",
        }
    }

    /// This key of course `course_id`.
    pub fn of(self, course_id: i64) -> String {
        self.tagged(&hash_tag(course_id))
    }

    /// This key of the course whose [`hash_tag`] is `tag` (several keys of
    /// one course: the tag is built once). Built on hot paths, so without
    /// `format!`.
    pub fn tagged(self, tag: &str) -> String {
        [self.prefix(), tag].concat()
    }
}

/// Key names of one course, for the scripts that touch most of them.
#[derive(Debug, Clone)]
pub struct CourseKeys {
    pub queue: String,
    pub seq: String,
    pub student_ticket: String,
    pub tickets: String,
    pub full: String,
    pub gen: String,
    pub lease: String,
    pub claim: String,
    pub pace: String,
    pub done: String,
    pub addrs: String,
}

impl CourseKeys {
    /// Every key of the course (the hash tag is built once).
    pub fn new(course_id: i64) -> Self {
        let tag = hash_tag(course_id);
        Self {
            queue: CourseKey::Queue.tagged(&tag),
            seq: CourseKey::Seq.tagged(&tag),
            student_ticket: CourseKey::StudentTicket.tagged(&tag),
            tickets: CourseKey::Tickets.tagged(&tag),
            full: CourseKey::Full.tagged(&tag),
            gen: CourseKey::Gen.tagged(&tag),
            lease: CourseKey::Lease.tagged(&tag),
            claim: CourseKey::Claim.tagged(&tag),
            pace: CourseKey::Pace.tagged(&tag),
            done: CourseKey::Done.tagged(&tag),
            addrs: CourseKey::Addrs.tagged(&tag),
        }
    }
}

/// `{c<id>}`: the hash tag every key of the course carries.
pub fn hash_tag(course_id: i64) -> String {
    let mut tag = String::with_capacity(24);
    tag.push_str("{c");
    tag.push_str(itoa::Buffer::new().format(course_id));
    tag.push('}');
    tag
}

/// The id of the deployment (database) this Redis's data belongs to.
pub const DEPLOYMENT: &str = "deployment";

/// Set while an admin has paused admission (every instance obeys).
pub const ADMISSION_PAUSED: &str = "admission:paused";

/// Where the session with this token digest is stored.
pub fn session(digest: &Digest) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(5 + 64);
    key.push_str("sess:");
    for b in digest {
        key.push(HEX[usize::from(b >> 4)] as char);
        key.push(HEX[usize::from(b & 15)] as char);
    }
    key
}

/// The digests of a student's sessions (`sessions:{s<id>}`), so that all
/// of them can be ended at once.
pub fn student_sessions(student: i64) -> String {
    format!("sessions:{{s{student}}}")
}

/// Login attempts counted for `(addr, student_no)` and for `addr`, in one
/// hash slot (`{l<addr>}`).
pub fn login_attempts(addr: std::net::IpAddr, student_no: &str) -> (String, String) {
    let address = format!("login:{{l{addr}}}");
    (format!("{address}:{student_no}"), address)
}

/// Admins' login attempts counted for `(addr, username)` and for `addr`, in
/// one hash slot (`{a<addr>}`), apart from the students'.
pub fn admin_login_attempts(addr: std::net::IpAddr, username: &str) -> (String, String) {
    let address = format!("alogin:{{a{addr}}}");
    (format!("{address}:{username}"), address)
}

/// A student's count of `limit` requests in fair-use window `window`
/// (`fair:{s<id>}:<limit>:<window>`), in the student's hash slot.
pub fn fair_use_window(student: i64, limit: &str, window: u64) -> String {
    format!("fair:{{s{student}}}:{limit}:{window}")
}

/// The courses a student holds a ticket in line for (`open:{s<id>}`), in
/// the student's hash slot.
pub fn open_tickets(student: i64) -> String {
    format!("open:{{s{student}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn keys_share_one_hash_tag() {
        let k = CourseKeys::new(7);
        for key in [
            &k.queue,
            &k.seq,
            &k.student_ticket,
            &k.tickets,
            &k.full,
            &k.gen,
            &k.lease,
            &k.claim,
            &k.pace,
        ] {
            assert!(key.ends_with(":{c7}"), "{key}");
        }
        // The names other tools read (rush reads tk:{c<id>}), and the single
        // keys agree with them.
        let k = CourseKeys::new(1_234_567);
        assert_eq!(
            [&k.queue, &k.tickets, &k.full, &k.lease],
            [
                "q:{c1234567}",
                "tk:{c1234567}",
                "full:{c1234567}",
                "lease:{c1234567}"
            ]
        );
        assert_eq!(
            (
                CourseKey::Queue.of(1_234_567),
                CourseKey::Full.of(1_234_567),
                CourseKey::Pace.of(1_234_567)
            ),
            (k.queue.clone(), k.full.clone(), k.pace.clone())
        );
    }

    #[test]
    fn admins_login_attempts_are_counted_apart_from_students() {
        let addr = "203.0.113.7".parse().unwrap();
        let (client, address) = admin_login_attempts(addr, "kim");
        assert_eq!(
            (client.as_str(), address.as_str()),
            ("alogin:{a203.0.113.7}:kim", "alogin:{a203.0.113.7}")
        );
        let (student_client, student_address) = login_attempts(addr, "kim");
        assert_ne!(client, student_client);
        assert_ne!(address, student_address);
    }

    #[test]
    fn redis_key_is_a_hash_not_the_token() {
        let k = session(&crate::session::digest("secret-token"));
        assert!(k.starts_with("sess:") && !k.contains("secret-token") && k.len() == 69);
        let hex: String = Sha256::digest(b"secret-token")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(k, format!("sess:{hex}"));
    }
}
