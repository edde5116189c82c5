//! argon2id password hashing, off the async runtime.
//!
//! Hashing is deliberately expensive (OWASP: 19 MiB, 2 passes), so it runs on
//! the blocking pool behind a semaphore sized to the CPU count: a burst of
//! logins queues for CPU instead of allocating 19 MiB per request at once.
//! The queue of password checks is bounded: past it a login is answered at
//! once ([`VerifyError::Busy`]) rather than after everyone already waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Why a password could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Checks running or waiting, and the most allowed.
    checks: Arc<AtomicUsize>,
    max_checks: usize,
    dummy: Arc<tokio::sync::OnceCell<String>>,
}

/// A place among the checks; given back when dropped.
struct CheckSlot(Arc<AtomicUsize>);

impl Drop for CheckSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// At most `max_waiting` password checks wait for a CPU at once.
    pub fn new(memory_kib: u32, iterations: u32, max_waiting: usize) -> Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow!("invalid argon2 parameters: {e}"))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cpus)),
            checks: Arc::new(AtomicUsize::new(0)),
            max_checks: cpus + max_waiting,
            dummy: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    fn check_slot(&self) -> Result<CheckSlot, VerifyError> {
        let slot = CheckSlot(self.checks.clone());
        if self.checks.fetch_add(1, Ordering::AcqRel) >= self.max_checks {
            return Err(VerifyError::Busy);
        }
        Ok(slot)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes one password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String> {
        let _permit = self.permits.acquire().await?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow!("hashing failed: {e}"))
        })
        .await
        .context("hashing task panicked")?
    }

    /// Checks `password` against a stored PHC hash. The parameters come from
    /// the hash itself, so hashes made with older settings keep working.
    /// [`VerifyError::Busy`] at once when the queue of checks is full.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, VerifyError> {
        let _slot = self.check_slot()?;
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::from)?;
        let verified = tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow!("stored hash unreadable: {e}"))?;
            Ok::<bool, anyhow::Error>(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .context("verification task panicked")??;
        Ok(verified)
    }

    /// A hash (made once, with the current parameters) to verify against when
    /// the student number is unknown, so that response time does not reveal
    /// which numbers exist.
    pub async fn dummy_hash(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| self.hash("not-a-real-password".into()))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = PasswordHasher::new(1024, 1, 8).unwrap();
        let hash = h.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(h
            .verify("correct horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!h.verify("wrong horse".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once_and_frees_up() {
        let h = PasswordHasher::new(1024, 1, 0).unwrap();
        let hash = h.hash("pw".into()).await.unwrap();
        // Every place taken (as by checks in flight): the next is refused
        // without waiting, and a place given back lets one in again.
        let held: Vec<CheckSlot> = (0..h.max_checks).map(|_| h.check_slot().unwrap()).collect();
        assert!(matches!(
            h.verify("pw".into(), hash.clone()).await,
            Err(VerifyError::Busy)
        ));
        drop(held);
        assert!(h.verify("pw".into(), hash).await.unwrap());
        assert_eq!(
            h.checks.load(Ordering::Acquire),
            0,
            "every place given back"
        );
    }
}
