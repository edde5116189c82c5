//! argon2id password hashing, off the async runtime.
//!
//! Hashing is deliberately expensive (OWASP: 19 MiB, 2 passes), so it runs on
//! the blocking pool behind a semaphore sized to the CPU count: a burst of
//! logins queues for CPU instead of allocating 19 MiB per request at once.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<tokio::sync::OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow!("invalid argon2 parameters: {e}"))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cpus)),
            dummy: Arc::new(tokio::sync::OnceCell::new()),
        })
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
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow!("stored hash unreadable: {e}"))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .context("verification task panicked")?
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
        let h = PasswordHasher::new(1024, 1).unwrap();
        let hash = h.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(h
            .verify("correct horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!h.verify("wrong horse".into(), hash).await.unwrap());
    }
}
