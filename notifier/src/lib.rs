//! Notification dispatch (see issue: alerter part 2).
