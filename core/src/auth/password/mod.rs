//! Passwords: Argon2id hashing on a bounded pool, verification with
//! rehash detection, and the password policy.
//!
//! Hashing costs about 13 ms of one core at the OWASP parameters, so it
//! runs off the async workers (`spawn_blocking`) behind a semaphore with
//! one permit per core: a flood of sign-ins queues here instead of starving
//! every other request. The hash is a PHC string; it reaches events only
//! sealed (`keys::Sealed`). Clear passwords live in [`Password`], which
//! never prints its content and is wiped when dropped.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, ParamsBuilder, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::refusal_timing::{RefusalTiming, cost_class};

mod policy;

pub use policy::{PasswordPolicy, PolicyViolation};

/// A clear password, wiped on drop, never shown by `Debug`.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(clear: impl Into<String>) -> Self {
        Password(Zeroizing::new(clear.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Argon2id cost parameters. The defaults are OWASP's first recommendation
/// (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Error)]
pub enum PasswordError {
    #[error("argon2 parameters refused: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the password hashing pool is closed")]
    Closed,
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `rehash` is set when the stored hash was made
    /// with other parameters (or another algorithm): store a new one.
    Valid {
        rehash: bool,
    },
    Invalid,
}

/// Hashes and verifies passwords on a bounded pool.
#[derive(Clone)]
pub struct PasswordHashing {
    params: HashParams,
    argon2: Argon2<'static>,
    pool: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account is
    /// unknown so that the answer takes as long as for a known one.
    decoy: Arc<String>,
    /// Argon2 working memory, reused: at most one buffer per worker. A
    /// fresh 19 MiB allocation per verification costs page faults that
    /// are a large share of the hash itself.
    memory: Arc<std::sync::Mutex<Vec<Vec<argon2::Block>>>>,
    /// What each cost class of hash takes to verify: refusals are padded
    /// to the slowest.
    timing: Arc<RefusalTiming>,
}

impl PasswordHashing {
    /// `workers`: hashes computed at once (normally the number of cores).
    pub fn new(params: HashParams, workers: usize) -> Result<Self, PasswordError> {
        let built = ParamsBuilder::new()
            .m_cost(params.memory_kib)
            .t_cost(params.iterations)
            .p_cost(params.parallelism)
            .build()
            .map_err(|error| PasswordError::Params(error.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, built);
        let decoy_password = hex::encode(crate::keys::random_bytes::<16>().as_ref());
        let decoy = argon2
            .hash_password(decoy_password.as_bytes())
            .map_err(|error| PasswordError::Hashing(error.to_string()))?
            .to_string();
        Ok(PasswordHashing {
            params,
            argon2,
            pool: Arc::new(Semaphore::new(workers.max(1))),
            decoy: Arc::new(decoy),
            memory: Arc::default(),
            timing: Arc::default(),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// How long refusals take ([`RefusalTiming`]).
    pub fn refusal_timing(&self) -> &RefusalTiming {
        &self.timing
    }

    /// A new PHC string for `password` with the current parameters.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        let clear = Zeroizing::new(password.expose().as_bytes().to_vec());
        self.run(move || {
            argon2
                .hash_password(&clear)
                .map(|hash| hash.to_string())
                .map_err(|error| PasswordError::Hashing(error.to_string()))
        })
        .await?
    }

    /// Checks `password` against a stored PHC string. A string that does
    /// not parse is `Invalid`, never an error the caller could tell apart.
    pub async fn verify(&self, password: &Password, stored: &str) -> Result<Verification, PasswordError> {
        let argon2 = self.argon2.clone();
        let params = self.params;
        let memory = Arc::clone(&self.memory);
        let clear = Zeroizing::new(password.expose().as_bytes().to_vec());
        let stored = stored.to_string();
        let timing = Arc::clone(&self.timing);
        self.run(move || {
            let started = std::time::Instant::now();
            let verdict = verify_blocking(&argon2, params, &memory, &clear, &stored);
            timing.record(cost_class(&stored), started.elapsed());
            verdict
        })
        .await
    }

    /// Spends the time of a verification when there is no account, so the
    /// answer does not tell unknown accounts from wrong passwords.
    pub async fn verify_nothing(&self, password: &Password) -> Result<(), PasswordError> {
        let decoy = self.decoy.clone();
        self.verify(password, &decoy).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let _permit = self.pool.acquire().await.map_err(|_| PasswordError::Closed)?;
        metrics::gauge!("warden_password_pool_available").set(self.pool.available_permits() as f64);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PasswordError::Closed)
    }
}

/// The verification itself, on a blocking thread.
fn verify_blocking(
    argon2: &Argon2<'static>,
    params: HashParams,
    memory: &std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    clear: &[u8],
    stored: &str,
) -> Verification {
    if !Scheme::within_bounds(stored) {
        return Verification::Invalid;
    }
    match Scheme::of(stored) {
        Some(Scheme::Bcrypt) => {
            // Legacy (imported): valid means "replace it now".
            return match bcrypt::verify(clear, stored) {
                Ok(true) => Verification::Valid { rehash: true },
                _ => Verification::Invalid,
            };
        }
        Some(Scheme::Scrypt) => {
            use scrypt::password_hash::{PasswordHash as ScryptHash, PasswordVerifier as _};
            let valid = ScryptHash::new(stored).is_ok_and(|hash| scrypt::Scrypt.verify_password(clear, &hash).is_ok());
            return if valid {
                Verification::Valid { rehash: true }
            } else {
                Verification::Invalid
            };
        }
        Some(Scheme::Argon2) => {}
        None => return Verification::Invalid,
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return Verification::Invalid;
    };
    let current = made_with(&hash, params) && hash.version == Some(0x13);
    let valid = if current {
        // Our own parameters: computed in reused memory.
        verify_in(argon2, memory, clear, &hash)
    } else {
        argon2.verify_password(clear, &hash).is_ok()
    };
    if !valid {
        return Verification::Invalid;
    }
    Verification::Valid { rehash: !current }
}

/// The password-hash schemes Warden verifies: its own Argon2id, and the
/// legacy schemes an import may bring (replaced by Argon2id at the user's
/// next sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` (PHC strings).
    Argon2,
    /// `$2a$`, `$2b$`, `$2x$`, `$2y$` (modular crypt format).
    Bcrypt,
    /// `$scrypt$` (PHC string).
    Scrypt,
}

impl Scheme {
    /// The scheme of a stored hash, by its prefix.
    pub fn of(stored: &str) -> Option<Scheme> {
        if ["$argon2id$", "$argon2i$", "$argon2d$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Some(Scheme::Argon2)
        } else if ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|p| stored.starts_with(p)) {
            Some(Scheme::Bcrypt)
        } else if stored.starts_with("$scrypt$") {
            Some(Scheme::Scrypt)
        } else {
            None
        }
    }

    /// Whether verifying this hash costs no more than a sign-in may: an
    /// imported hash with huge parameters would let anyone who knows the
    /// email exhaust memory or CPU. Bounds: bcrypt cost 4 to 14; scrypt
    /// ln <= 17, r <= 16, p <= 4; argon2 m <= 256 MiB, t <= 10, p <= 8.
    pub fn within_bounds(stored: &str) -> bool {
        let field = |name: &str| -> Option<u64> {
            stored
                .split(['$', ','])
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
                .and_then(|value| value.parse().ok())
        };
        match Scheme::of(stored) {
            Some(Scheme::Bcrypt) => stored
                .get(4..6)
                .and_then(|cost| cost.parse::<u32>().ok())
                .is_some_and(|cost| (4..=14).contains(&cost)),
            Some(Scheme::Scrypt) => {
                field("ln").is_some_and(|ln| ln <= 17)
                    && field("r").is_some_and(|r| r <= 16)
                    && field("p").is_some_and(|p| p <= 4)
            }
            Some(Scheme::Argon2) => {
                field("m").is_some_and(|m| m <= 256 * 1024)
                    && field("t").is_some_and(|t| t <= 10)
                    && field("p").is_some_and(|p| p <= 8)
            }
            None => false,
        }
    }

    /// The name recorded in `password.set` events' `scheme`.
    pub fn name(stored: &str) -> &'static str {
        match Scheme::of(stored) {
            Some(Scheme::Argon2) if stored.starts_with("$argon2id$") => "argon2id",
            Some(Scheme::Argon2) if stored.starts_with("$argon2i$") => "argon2i",
            Some(Scheme::Argon2) => "argon2d",
            Some(Scheme::Bcrypt) => "bcrypt",
            Some(Scheme::Scrypt) => "scrypt",
            None => "unknown",
        }
    }
}

/// Verifies `clear` against one of our own Argon2id hashes, computing in a
/// buffer taken from (and returned to) `memory`.
fn verify_in(
    argon2: &Argon2<'static>,
    memory: &std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    clear: &[u8],
    hash: &PasswordHash,
) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let blocks = argon2.params().block_count();
    let mut buffer = memory
        .lock()
        .ok()
        .and_then(|mut buffers| buffers.pop())
        .filter(|buffer| buffer.len() == blocks)
        .unwrap_or_else(|| vec![argon2::Block::default(); blocks]);
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.as_bytes().len()) else {
        return false;
    };
    let computed = argon2.hash_password_into_with_memory(clear, salt, &mut *out, &mut buffer[..]);
    if let Ok(mut buffers) = memory.lock() {
        buffers.push(buffer);
    }
    computed.is_ok() && crate::auth::tokens::constant_time_eq_bytes(out, expected.as_bytes())
}

/// Whether a stored hash is Argon2id with exactly these parameters.
fn made_with(hash: &PasswordHash, params: HashParams) -> bool {
    if hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
        return false;
    }
    match argon2::Params::try_from(hash) {
        Ok(stored) => {
            stored.m_cost() == params.memory_kib
                && stored.t_cost() == params.iterations
                && stored.p_cost() == params.parallelism
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the tests exercise the logic, not the cost.
    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn legacy_hashes_verify_and_ask_for_a_rehash() {
        let hashing = PasswordHashing::new(cheap(), 2).unwrap();
        // OpenBSD's bcrypt test vector.
        let vector = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert_eq!(Scheme::name(vector), "bcrypt");
        assert_eq!(
            hashing.verify(&Password::new("U*U"), vector).await.unwrap(),
            Verification::Valid { rehash: true }
        );
        assert_eq!(
            hashing.verify(&Password::new("U*V"), vector).await.unwrap(),
            Verification::Invalid
        );

        let password = Password::new("correct horse battery staple");
        let bcrypt = bcrypt::hash("correct horse battery staple", 4).unwrap();
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            ParamsBuilder::new().m_cost(64).t_cost(1).p_cost(1).build().unwrap(),
        )
        .hash_password(b"correct horse battery staple")
        .unwrap()
        .to_string();
        let scrypt = {
            use scrypt::password_hash::{PasswordHasher as _, SaltString};
            let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
            scrypt::Scrypt
                .hash_password_customized(
                    b"correct horse battery staple",
                    None,
                    None,
                    scrypt::Params::new(4, 8, 1, 32).unwrap(),
                    &salt,
                )
                .unwrap()
                .to_string()
        };
        for (stored, name) in [(&bcrypt, "bcrypt"), (&argon2i, "argon2i"), (&scrypt, "scrypt")] {
            assert_eq!(Scheme::name(stored), name);
            assert_eq!(
                hashing.verify(&password, stored).await.unwrap(),
                Verification::Valid { rehash: true },
                "{name}"
            );
            assert_eq!(
                hashing.verify(&Password::new("wrong"), stored).await.unwrap(),
                Verification::Invalid,
                "{name}"
            );
        }
        assert!(Scheme::within_bounds(&bcrypt) && Scheme::within_bounds(&argon2i) && Scheme::within_bounds(&scrypt));
        assert!(!Scheme::within_bounds(
            "$2b$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        ));
        assert!(!Scheme::within_bounds(
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$abc"
        ));
        assert!(!Scheme::within_bounds("$scrypt$ln=22,r=8,p=1$c29tZXNhbHQ$abc"));
        assert_eq!(Scheme::name("{SSHA}abc"), "unknown");
        assert_eq!(
            hashing.verify(&password, "{SSHA}abc").await.unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashing = PasswordHashing::new(cheap(), 2).unwrap();
        let password = Password::new("correct horse battery staple");
        let hash = hashing.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert_eq!(
            hashing.verify(&password, &hash).await.unwrap(),
            Verification::Valid { rehash: false }
        );
        let wrong = Password::new("correct horse battery stapler");
        assert_eq!(hashing.verify(&wrong, &hash).await.unwrap(), Verification::Invalid);
        assert_eq!(
            hashing.verify(&password, "not a phc string").await.unwrap(),
            Verification::Invalid
        );
        hashing.verify_nothing(&password).await.unwrap();
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_asks_for_a_rehash() {
        let old = PasswordHashing::new(cheap(), 1).unwrap();
        let password = Password::new("correct horse battery staple");
        let hash = old.hash(&password).await.unwrap();
        let stronger = PasswordHashing::new(
            HashParams {
                memory_kib: 128,
                ..cheap()
            },
            1,
        )
        .unwrap();
        assert_eq!(
            stronger.verify(&password, &hash).await.unwrap(),
            Verification::Valid { rehash: true }
        );
    }

    #[test]
    fn passwords_never_print() {
        let password = Password::new("hunter2hunter2");
        assert_eq!(format!("{password:?}"), "Password(…)");
    }
}
