//! Integration tests against real PostgreSQL (primary + streaming replica)
//! and a real redis-server. One test binary, so its tests share one cluster
//! (each in a database of its own).

mod admin;
mod admin_accounts;
mod admission;
mod auth;
mod batch;
mod blocks;
mod cart;
mod catalogue;
mod compose_redis;
mod contract;
mod db_roles;
mod enroll;
mod errors;
mod events;
mod expiry;
mod fair_use;
mod helpers;
mod limits;
mod mail;
mod mail_erasure;
mod overrides;
mod page;
mod phases;
mod recovery;
mod redis_queue;
mod replica;
mod seats;
mod sentinel;
mod sessions;
mod waitlist;
mod withheld;
