//! FROST nonce pools (decision 0034): a block of nonce pairs made with the pool's other signers
//! in one round, each slot stored sealed; and the batch items that sign from slots in one online
//! round (`sign_batch.rs`).
//!
//! A slot holds this node's secret nonces and every pool signer's commitment for one pool
//! sequence number. It is used at most once: the batch session takes it out of the share store
//! (flushed) before any signature share is computed from it (invariant 4), so
//! neither a retry, a second attempt naming the same sequence number (which the log never
//! makes) nor a restart can sign with it again.

use super::{fresh_rng, Runner, SIGN_TIMEOUT};
use crate::share_store::RecordKind;
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::Ciphersuite;
use mpc_consensus::raft::NodeId;
use mpc_custody::presig_store_key;
use mpc_custody::state::SigningJob;
use mpc_engine::SessionSpec;
use mpc_protocol::chain::{keys, KeyType};
use mpc_protocol::frost::preprocess::FrostPreprocess;
use mpc_protocol::frost::sign_batch::BatchItem;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Most wallets' key packages kept decoded (the cache starts over beyond it).
const MAX_CACHED_FROST_KEYS: usize = 4096;

/// Decoded, tweaked key packages of one wallet (`(KeyPackage<C>, PublicKeyPackage<C>)` for
/// its ciphersuite `C`).
pub(super) type CachedKeys = Arc<dyn Any + Send + Sync>;

/// Largest stored slot the node decodes, in bytes.
const MAX_SLOT_BYTES: usize = 16 * 1024;

/// One stored slot of a FROST nonce pool.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
struct StoredSlot<C: Ciphersuite> {
    /// The vault and key type whose share hedged the nonces (checked when the slot is used).
    vault_id: String,
    key_type: KeyType,
    /// This node's secret nonces (zeroized on drop by frost-core).
    nonces: SigningNonces<C>,
    /// Every pool signer's commitment for this slot, by node id.
    commitments: BTreeMap<NodeId, SigningCommitments<C>>,
}

impl Runner {
    /// Makes one block of a FROST wallet's nonce pool (spec from the engine) and stores its
    /// slots sealed, all at once.
    pub(super) fn frost_nonces_blocking(&self, spec: &SessionSpec) -> Result<(), String> {
        let SessionSpec::FrostNonces {
            wallet_id,
            first_seq,
            count,
            session_id,
            parties,
            vault_id,
            key_type,
            share_generation,
        } = spec
        else {
            return Err("not a nonce preprocessing job".into());
        };
        let store_keys: Vec<String> = (*first_seq..first_seq.saturating_add(*count))
            .map(|s| presig_store_key(wallet_id, s))
            .collect();
        let first = store_keys.first().ok_or("an empty nonce block")?;
        // Already stored (a restart before the report was committed): report it again. The
        // block's slots are written in one batch, so one present means all are.
        if self
            .inner
            .shares
            .get(first, RecordKind::Nonces)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        // Joined once, ever: a block interrupted by a restart is reported failed (the pool
        // schedules new sequence numbers) rather than re-entered with other nonces.
        self.join_once(session_id, "nonce preprocessing")?;
        let share_key = Self::share_key(vault_id, *key_type, *share_generation);
        let block = Block {
            vault_id,
            key_type: *key_type,
            share_key: &share_key,
            session_id: *session_id,
            parties,
            store_keys: &store_keys,
        };
        match key_type {
            KeyType::Ed25519 => self.preprocess::<Ed25519>(&block),
            KeyType::Secp256k1Tr => self.preprocess::<Secp256k1Tr>(&block),
            KeyType::EcdsaSecp256k1 => Err("an ECDSA wallet has no nonce pool".into()),
        }
    }

    fn preprocess<C: Ciphersuite>(&self, b: &Block<'_>) -> Result<(), String> {
        let (kp, _): (KeyPackage<C>, PublicKeyPackage<C>) = self
            .load(b.share_key)?
            .ok_or("no FROST share for this vault")?;
        let me = *b.parties.get(&self.me()).ok_or("not a pool signer")?;
        let ps: Vec<PartyIndex> = b.parties.values().copied().collect();
        let mut session = FrostPreprocess::<C>::new(b.session_id, me, &ps, kp, b.store_keys.len())
            .map_err(|e| e.to_string())?;
        let mut rng = fresh_rng()?;
        let out = self
            .inner
            .hub
            .run(
                b.session_id.0,
                b.parties,
                &mut session,
                &mut rng,
                SIGN_TIMEOUT,
            )
            .map_err(|e| format!("nonce preprocessing: {e}"))?;
        let node_of: BTreeMap<PartyIndex, NodeId> =
            b.parties.iter().map(|(n, p)| (*p, *n)).collect();
        let mut records = Vec::with_capacity(b.store_keys.len());
        for (i, (nonces, key)) in out.nonces.into_iter().zip(b.store_keys).enumerate() {
            let commitments = out
                .commitments
                .iter()
                .map(|(p, cs)| {
                    let node = node_of.get(p).ok_or("a commitment from a non-signer")?;
                    let c = cs.get(i).ok_or("a commitment missing")?;
                    Ok((*node, *c))
                })
                .collect::<Result<BTreeMap<_, _>, &str>>()?;
            let slot = StoredSlot::<C> {
                vault_id: b.vault_id.to_string(),
                key_type: b.key_type,
                nonces,
                commitments,
            };
            let bytes = Zeroizing::new(mpc_protocol::encode(&slot).map_err(|e| e.to_string())?);
            records.push((key.clone(), bytes));
        }
        self.inner
            .shares
            .put_many(RecordKind::Nonces, &records)
            .map_err(|e| e.to_string())
    }

    /// The batch items of one pooled job: one per message, each with its taken nonce slot
    /// (already out of the share store), the wallet's tweaked key and every signer's
    /// commitment. The slot must belong to this vault and key type and hold a commitment of
    /// each of the attempt's signers, and nothing else.
    pub(super) fn pooled_items<C: Ciphersuite>(
        &self,
        job: &SigningJob,
        slots: Vec<Zeroizing<Vec<u8>>>,
        message_sessions: &[SessionId],
        parties: &BTreeMap<NodeId, PartyIndex>,
    ) -> Result<Vec<BatchItem<C>>, String> {
        if slots.len() != job.messages.len() || message_sessions.len() != job.messages.len() {
            return Err("one nonce slot and one session per message are needed".into());
        }
        let (kp, pkp) = self.tweaked_frost_keys::<C>(job)?;
        job.messages
            .iter()
            .zip(slots)
            .zip(message_sessions)
            .map(|((msg, slot), sid)| {
                let slot: StoredSlot<C> =
                    mpc_protocol::decode(&slot, MAX_SLOT_BYTES).map_err(|e| e.to_string())?;
                if job.vault_id != slot.vault_id || slot.key_type != job.key_type {
                    return Err("the nonce slot belongs to another key".to_string());
                }
                if slot.commitments.len() != parties.len() {
                    return Err("the nonce slot was made by another signer set".into());
                }
                let commitments = parties
                    .iter()
                    .map(|(n, p)| {
                        slot.commitments
                            .get(n)
                            .map(|c| (*p, *c))
                            .ok_or_else(|| format!("the nonce slot has no commitment of node {n}"))
                    })
                    .collect::<Result<BTreeMap<_, _>, _>>()?;
                Ok(BatchItem {
                    id: sid.0,
                    key_package: kp.clone(),
                    public_key_package: pkp.clone(),
                    message: msg.message().to_vec(),
                    commitments,
                    nonces: slot.nonces,
                })
            })
            .collect()
    }

    /// The job's FROST key packages, tweaked to the wallet's key: decoded from the share store
    /// and tweaked once per vault, share generation and wallet, then kept in memory (the
    /// share store's key is in this process's memory for as long anyway). Each job gets a copy.
    pub(super) fn tweaked_frost_keys<C: Ciphersuite>(
        &self,
        job: &SigningJob,
    ) -> Result<(KeyPackage<C>, PublicKeyPackage<C>), String> {
        let id = format!(
            "{}/{}/{}/{:?}/{:?}/{}",
            job.vault_id,
            job.key_type.as_str(),
            job.share_generation,
            job.chain,
            job.network,
            job.index
        );
        if let Some(hit) = self
            .inner
            .frost_keys
            .lock()
            .ok()
            .and_then(|c| c.get(&id).cloned())
            .and_then(|k| {
                k.downcast_ref::<(KeyPackage<C>, PublicKeyPackage<C>)>()
                    .cloned()
            })
        {
            return Ok(hit);
        }
        let keys = self.load_tweaked_frost_keys::<C>(job)?;
        if let Ok(mut cache) = self.inner.frost_keys.lock() {
            if cache.len() >= MAX_CACHED_FROST_KEYS {
                cache.clear();
            }
            cache.insert(id, Arc::new(keys.clone()));
        }
        Ok(keys)
    }

    /// Empties the key-package cache (replaced shares are being deleted).
    pub(super) fn forget_frost_keys(&self) {
        if let Ok(mut cache) = self.inner.frost_keys.lock() {
            cache.clear();
        }
    }

    fn load_tweaked_frost_keys<C: Ciphersuite>(
        &self,
        job: &SigningJob,
    ) -> Result<(KeyPackage<C>, PublicKeyPackage<C>), String> {
        let (kp, pkp): (KeyPackage<C>, PublicKeyPackage<C>) = self
            .load(&Self::share_key(
                &job.vault_id,
                job.key_type,
                job.share_generation,
            ))?
            .ok_or("no FROST share for this vault")?;
        let gk = pkp.verifying_key().serialize().map_err(|e| e.to_string())?;
        let t = keys::frost_tweak::<C>(job.key_type, &gk, job.chain, job.network, job.index)
            .map_err(|e| e.to_string())?;
        Ok(keys::frost_tweak_packages(&kp, &pkp, t))
    }
}

/// What a preprocessing block needs.
struct Block<'a> {
    vault_id: &'a str,
    key_type: KeyType,
    share_key: &'a str,
    session_id: SessionId,
    parties: &'a BTreeMap<NodeId, PartyIndex>,
    store_keys: &'a [String],
}
