//! Signing one verified attempt: interactive FROST (ed25519, secp256k1-tr), ECDSA from pool
//! presignatures (one round), or interactive ECDSA. Pooled FROST attempts sign in batches
//! (`sign_batch.rs`).

use super::{fresh_rng, presig_key_id, Runner, ECDSA_SIGN_TIMEOUT, SIGN_TIMEOUT};
use crate::sessions::RunError;
use crate::share_store::RecordKind;
use mpc_consensus::raft::NodeId;
use mpc_custody::state::SigningJob;
use mpc_protocol::chain::keys;
use mpc_protocol::chain::{KeyType, ToSign};
use mpc_protocol::ecdsa;
use mpc_protocol::ecdsa::online::EcdsaPresigSign;
use mpc_protocol::frost::online::FrostSignOnline;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use std::collections::BTreeMap;

impl Runner {
    /// Signs every message of a verified job (one session per message, ids fixed by the engine).
    pub(super) fn sign_blocking(
        &self,
        job: &SigningJob,
        parties: &BTreeMap<NodeId, PartyIndex>,
        keygen_indices: &[u16],
        aux_attempt: u32,
        message_sessions: &[SessionId],
    ) -> Result<Vec<Vec<u8>>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
            culprits: vec![],
        };
        if message_sessions.len() != job.messages.len() {
            return Err(err("one session per message is needed".into()));
        }
        let me = parties
            .get(&self.me())
            .copied()
            .ok_or_else(|| err("not a signer".into()))?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        if job.key_type != KeyType::EcdsaSecp256k1 && !job.presignatures.is_empty() {
            // Pooled FROST attempts sign in batch sessions (`sign_batch.rs`).
            return Err(err("a pooled FROST job signs in its batch session".into()));
        }
        // This node joins each signing session once, ever: a restart does not re-enter it.
        self.join_once(&job.session_id, "signing").map_err(err)?;
        // Every pool presignature of this attempt leaves the share store (flushed) before any
        // partial signature is issued, so none can be used twice whatever happens next.
        let mut presigs = job
            .presignatures
            .iter()
            .map(|(seq, key)| self.take_presignature(*seq, key).map(Some))
            .collect::<Result<Vec<_>, String>>()
            .map_err(err)?;
        if !presigs.is_empty() && presigs.len() != job.messages.len() {
            return Err(err("one presignature per message is needed".into()));
        }
        let mut out = Vec::with_capacity(job.messages.len());
        for (i, msg) in job.messages.iter().enumerate() {
            let sid = *message_sessions
                .get(i)
                .ok_or_else(|| err("no session for this message".into()))?;
            let sig = match (job.key_type, msg) {
                (KeyType::EcdsaSecp256k1, ToSign::Ecdsa(digest)) if !presigs.is_empty() => {
                    let presig = presigs
                        .get_mut(i)
                        .and_then(Option::take)
                        .ok_or_else(|| err("no presignature for this message".into()))?;
                    self.sign_ecdsa_presig(job, presig, sid, parties, me, &ps, digest)?
                }
                (KeyType::EcdsaSecp256k1, ToSign::Ecdsa(digest)) => {
                    let share = self
                        .complete_ecdsa_share(&job.vault_id, job.share_generation, aux_attempt)
                        .map_err(err)?;
                    self.sign_ecdsa(job, &share, sid, parties, me, &ps, keygen_indices, digest)?
                }
                (KeyType::Ed25519, m) => {
                    self.sign_frost::<Ed25519>(job, sid, parties, me, &ps, &m.message())?
                }
                (KeyType::Secp256k1Tr, m) => {
                    self.sign_frost::<Secp256k1Tr>(job, sid, parties, me, &ps, &m.message())?
                }
                _ => return Err(err("message kind does not match the key type".into())),
            };
            out.push(sig);
        }
        Ok(out)
    }

    /// Takes pool presignature `seq` out of the share store (a flushed delete).
    fn take_presignature(&self, seq: u64, key: &str) -> Result<ecdsa::BoundPresignature, String> {
        let bytes = self
            .inner
            .shares
            .take(key, RecordKind::Presignature)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("presignature {seq} is not in this node's store"))?;
        let stored: ecdsa::StoredPresignature =
            mpc_protocol::decode(&bytes, 64 * 1024).map_err(|e| e.to_string())?;
        Ok(ecdsa::BoundPresignature::from_stored(stored))
    }

    /// Online signing with a pool presignature (already out of the share store): one round.
    #[allow(clippy::too_many_arguments)]
    fn sign_ecdsa_presig(
        &self,
        job: &SigningJob,
        presig: ecdsa::BoundPresignature,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        digest: &ecdsa::MessageDigest,
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
            culprits: vec![],
        };
        let path =
            keys::ecdsa_path(job.chain, job.network, job.index).map_err(|e| err(e.to_string()))?;
        let mut session = EcdsaPresigSign::new(
            sid,
            me,
            ps,
            presig,
            &presig_key_id(&job.vault_id, job.chain, job.network, job.index),
            &path,
            *digest,
            &job.wallet.public_key,
        )
        .map_err(|e| err(e.to_string()))?;
        let sig = self.run_signing(sid, parties, &mut session, SIGN_TIMEOUT)?;
        Ok(ecdsa::signature_bytes(&sig))
    }

    #[allow(clippy::too_many_arguments)]
    fn sign_ecdsa(
        &self,
        job: &SigningJob,
        share: &ecdsa::EcdsaKeyShare,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        keygen_indices: &[u16],
        digest: &ecdsa::MessageDigest,
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
            culprits: vec![],
        };
        let path =
            keys::ecdsa_path(job.chain, job.network, job.index).map_err(|e| err(e.to_string()))?;
        let mut rng = fresh_rng().map_err(err)?;
        let mut session = ecdsa::sign(&sid, me, ps, keygen_indices, share, &path, digest, &mut rng)
            .map_err(|e| err(e.to_string()))?;
        let sig = self.run_signing(sid, parties, &mut session, ECDSA_SIGN_TIMEOUT)?;
        Ok(ecdsa::signature_bytes(&sig))
    }

    fn sign_frost<C: frost_core::Ciphersuite>(
        &self,
        job: &SigningJob,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        message: &[u8],
    ) -> Result<Vec<u8>, RunError> {
        let err = |reason: String| RunError {
            reason,
            unresponsive: vec![],
            culprits: vec![],
        };
        let (kp, pkp) = self.tweaked_frost_keys::<C>(job).map_err(err)?;
        let mut session = FrostSignOnline::<C>::new(sid, me, ps, kp, pkp, message)
            .map_err(|e| err(e.to_string()))?;
        let sig = self.run_signing(sid, parties, &mut session, SIGN_TIMEOUT)?;
        sig.serialize().map_err(|e| err(e.to_string()))
    }

    /// Runs one signing session to its end with a fresh RNG (the session gives up when a
    /// participant's connection is gone; see `SessionHub::run_while_connected`).
    pub(super) fn run_signing<S: mpc_protocol::session::Session>(
        &self,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        idle: std::time::Duration,
    ) -> Result<S::Output, RunError> {
        let mut rng = fresh_rng().map_err(|reason| RunError {
            reason,
            unresponsive: vec![],
            culprits: vec![],
        })?;
        self.inner
            .hub
            .run_while_connected(sid.0, parties, session, &mut rng, idle)
    }
}
