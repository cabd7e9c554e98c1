//! Pre-generated FROST nonces (RFC 9591 §5.1), each usable exactly once.
//!
//! A party generates nonces ahead of time and publishes only the commitments. [`NonceStore::take`]
//! removes the secret nonces and remembers the id, so a second use is refused even if the same
//! id is presented again. The node persists the store (encrypted) and must make the removal
//! durable before any signature share computed from the nonces leaves it.

use frost_core::keys::KeyPackage;
use frost_core::round1::{self, SigningCommitments, SigningNonces};
use frost_core::Ciphersuite;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Identifies one pre-generated nonce pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NonceId(pub u64);

/// Why nonces could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// The nonces were used already.
    #[error("nonce {0:?} was already used; refusing to sign with it again")]
    AlreadyUsed(NonceId),
    /// No such nonce.
    #[error("unknown nonce {0:?}")]
    Unknown(NonceId),
}

/// A party's unused nonces and the ids of used ones.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
pub struct NonceStore<C: Ciphersuite> {
    unused: BTreeMap<NonceId, SigningNonces<C>>,
    used: BTreeSet<NonceId>,
    next_id: u64,
}

impl<C: Ciphersuite> fmt::Debug for NonceStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceStore")
            .field("unused", &self.unused.len())
            .field("used", &self.used.len())
            .finish()
    }
}

impl<C: Ciphersuite> Default for NonceStore<C> {
    fn default() -> Self {
        NonceStore {
            unused: BTreeMap::new(),
            used: BTreeSet::new(),
            next_id: 0,
        }
    }
}

impl<C: Ciphersuite> NonceStore<C> {
    /// Generates `count` nonce pairs for `key` and returns their public commitments.
    pub fn generate<R: RngCore + CryptoRng>(
        &mut self,
        key: &KeyPackage<C>,
        count: usize,
        rng: &mut R,
    ) -> Vec<(NonceId, SigningCommitments<C>)> {
        (0..count)
            .map(|_| {
                let (nonces, commitments) = round1::commit(key.signing_share(), rng);
                let id = NonceId(self.next_id);
                self.next_id += 1;
                self.unused.insert(id, nonces);
                (id, commitments)
            })
            .collect()
    }

    /// Removes and returns the nonces `id`; they can never be taken again.
    pub fn take(&mut self, id: NonceId) -> Result<SigningNonces<C>, NonceError> {
        if self.used.contains(&id) {
            return Err(NonceError::AlreadyUsed(id));
        }
        let nonces = self.unused.remove(&id).ok_or(NonceError::Unknown(id))?;
        self.used.insert(id);
        Ok(nonces)
    }

    /// Number of unused nonces.
    pub fn available(&self) -> usize {
        self.unused.len()
    }
}
