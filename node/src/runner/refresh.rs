//! Proactive refresh of a vault's shares (every key type) and the tidying of shares a refresh
//! replaced or a failed one left behind.
//!
//! - The new shares are stored under their own generation (the log index that started the
//!   refresh) beside the current ones; nothing signs with them until the log says every
//!   committee node reported the same new public key material.
//! - A node that stored all three and restarted before its report was committed reports them
//!   again (the sessions are not re-entered: each session id is joined once, ever).
//! - Old shares are deleted only after [`CustodyState::verify_refresh_completion`]: every
//!   committee node's signed report, checked against its genesis key, names the digest this
//!   node computed from its own new shares.

use super::{fresh_rng, Failure, Runner, REFRESH_TIMEOUT};
use crate::share_store::RecordKind;
use mpc_consensus::raft::NodeId;
use mpc_custody::state::CustodyState;
use mpc_custody::RefreshStatus;
use mpc_engine::SessionOutcome;
use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa;
use mpc_protocol::frost::dkg::{DkgMode, FrostDkg};
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionError, SessionId};
use std::collections::BTreeMap;

type FrostShare<C> = (
    frost_core::keys::KeyPackage<C>,
    frost_core::keys::PublicKeyPackage<C>,
);
type EcdsaIncomplete = cggmp21::IncompleteKeyShare<ecdsa::Secp256k1>;

/// What a refresh needs: the vault, the generations, the committee and the session ids.
pub(super) struct RefreshJob<'a> {
    pub vault_id: &'a str,
    pub from_generation: u64,
    pub generation: u64,
    pub parties: &'a BTreeMap<NodeId, PartyIndex>,
    pub committee: &'a [NodeId],
    pub staying: &'a [NodeId],
    pub sessions: &'a [(KeyType, SessionId)],
}

impl Runner {
    /// Runs (or, after a restart, finds) the refresh of every key type of a vault and returns
    /// the digest of the new public key material.
    pub(super) fn refresh_blocking(&self, job: &RefreshJob<'_>) -> SessionOutcome {
        match self.refresh_all(job) {
            Ok(digest) => SessionOutcome::Refreshed(digest),
            Err(f) => SessionOutcome::RefreshFailed {
                reason: f.reason,
                culprits: f.culprits,
            },
        }
    }

    fn refresh_all(&self, job: &RefreshJob<'_>) -> Result<String, Failure> {
        let sid = |kt: KeyType| {
            job.sessions
                .iter()
                .find(|(k, _)| *k == kt)
                .map(|(_, s)| *s)
                .ok_or_else(|| Failure::new(format!("no {} refresh session", kt.as_str())))
        };
        let started = std::time::Instant::now();
        let ecdsa = self.refresh_ecdsa(job, sid(KeyType::EcdsaSecp256k1)?)?;
        let ed = self.refresh_frost::<Ed25519>(job, KeyType::Ed25519, sid(KeyType::Ed25519)?)?;
        let tr = self.refresh_frost::<Secp256k1Tr>(
            job,
            KeyType::Secp256k1Tr,
            sid(KeyType::Secp256k1Tr)?,
        )?;
        tracing::info!(
            vault = %job.vault_id,
            "refresh sessions done in {} ms",
            started.elapsed().as_millis()
        );
        Ok(mpc_custody::refresh_digest(&[
            (KeyType::EcdsaSecp256k1.as_str(), ecdsa),
            (KeyType::Ed25519.as_str(), ed),
            (KeyType::Secp256k1Tr.as_str(), tr),
        ]))
    }

    fn refresh_ecdsa(&self, job: &RefreshJob<'_>, sid: SessionId) -> Result<Vec<u8>, Failure> {
        let kt = KeyType::EcdsaSecp256k1;
        let new_key = Self::share_key(job.vault_id, kt, job.generation);
        if let Some(done) = self
            .load::<EcdsaIncomplete>(&new_key)
            .map_err(Failure::new)?
        {
            return Ok(ecdsa_public(&done));
        }
        let mut old: EcdsaIncomplete = self
            .load(&Self::share_key(job.vault_id, kt, job.from_generation))
            .map_err(Failure::new)?
            .ok_or_else(|| Failure::new("no ECDSA share of the current generation here"))?;
        // Added nodes (decision 0027): every member's key info gains their public shares,
        // computed from public data (the new node's repaired share has them already); the
        // committee is the current one followed by them.
        let mut committee = job.committee.to_vec();
        for n in job.staying.iter().filter(|n| !job.committee.contains(n)) {
            let point = u16::try_from(*n)
                .map_err(|_| Failure::new(format!("node id {n} is not a party index")))?;
            if old.public_shares.len() <= committee.len() {
                old = ecdsa::reshare::extended_share(&old, point).map_err(session_failure)?;
            }
            committee.push(*n);
        }
        if old.public_shares.len() != committee.len() {
            return Err(Failure::new(
                "this node's ECDSA share does not match the vault's committee",
            ));
        }
        // ECDSA parties are cggmp21's evaluation points (keygen index + 1 after keygen), the
        // staying nodes at their keygen indices in the committee.
        let mut parties: BTreeMap<NodeId, PartyIndex> = BTreeMap::new();
        let mut staying: Vec<u16> = Vec::new();
        for n in job.staying {
            let i = committee
                .iter()
                .position(|c| c == n)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| Failure::new(format!("node {n} is not in the vault's committee")))?;
            let p = ecdsa::refresh::party_at(&old.key_info, i).map_err(session_failure)?;
            parties.insert(*n, p);
            staying.push(i);
        }
        let removal = job.staying.len() != committee.len();
        self.join_once(&sid, "refresh").map_err(Failure::new)?;
        let mut session = if removal {
            ecdsa::reshare::removal_session(sid, &old, &staying)
        } else {
            ecdsa::refresh::refresh_session(sid, &old)
        }
        .map_err(session_failure)?;
        let mut rng = fresh_rng().map_err(Failure::new)?;
        let out = self
            .inner
            .hub
            .run(sid.0, &parties, &mut session, &mut rng, REFRESH_TIMEOUT)
            .map_err(|e| Failure::run(&format!("{} refresh", kt.as_str()), e))?;
        let new = if removal {
            ecdsa::reshare::after_removal(&old, &staying, &out)
        } else {
            ecdsa::refresh::refreshed_share(&old, &out)
        }
        .map_err(session_failure)?;
        self.store(&new_key, &new).map_err(Failure::new)?;
        Ok(ecdsa_public(&new))
    }

    fn refresh_frost<C: frost_core::Ciphersuite>(
        &self,
        job: &RefreshJob<'_>,
        kt: KeyType,
        sid: SessionId,
    ) -> Result<Vec<u8>, Failure> {
        let new_key = Self::share_key(job.vault_id, kt, job.generation);
        if let Some((_, pkp)) = self.load::<FrostShare<C>>(&new_key).map_err(Failure::new)? {
            return frost_public(&pkp);
        }
        let (kp, mut pkp): FrostShare<C> = self
            .load(&Self::share_key(job.vault_id, kt, job.from_generation))
            .map_err(Failure::new)?
            .ok_or_else(|| {
                Failure::new(format!(
                    "no {} share of the current generation here",
                    kt.as_str()
                ))
            })?;
        let me = *job
            .parties
            .get(&self.me())
            .ok_or_else(|| Failure::new("not in the vault's committee"))?;
        let ps: Vec<PartyIndex> = job.parties.values().copied().collect();
        let t = *kp.min_signers();
        // Added nodes: their public shares, from public data (any t current members' shares).
        let basis: Vec<PartyIndex> = job
            .committee
            .iter()
            .take(usize::from(t))
            .map(|n| mpc_engine::party(*n))
            .collect();
        for n in job.staying.iter().filter(|n| !job.committee.contains(n)) {
            pkp = mpc_protocol::frost::repair::extend_public_key_package(
                &pkp,
                &basis,
                mpc_engine::party(*n),
            )
            .map_err(session_failure)?;
        }
        let group = pkp
            .verifying_key()
            .serialize()
            .map_err(|e| Failure::new(e.to_string()))?;
        self.join_once(&sid, "refresh").map_err(Failure::new)?;
        let mode = DkgMode::Refresh {
            key_package: Box::new(kp),
            public_key_package: Box::new(pkp),
        };
        let mut session = FrostDkg::<C>::new(sid, me, &ps, t, mode).map_err(session_failure)?;
        let mut rng = fresh_rng().map_err(Failure::new)?;
        let out = self
            .inner
            .hub
            .run(sid.0, job.parties, &mut session, &mut rng, REFRESH_TIMEOUT)
            .map_err(|e| Failure::run(&format!("{} refresh", kt.as_str()), e))?;
        let new_group = out
            .public_key_package
            .verifying_key()
            .serialize()
            .map_err(|e| Failure::new(e.to_string()))?;
        if new_group != group {
            return Err(Failure::new(format!(
                "{} refresh changed the group key; refused",
                kt.as_str()
            )));
        }
        self.store(&new_key, &(out.key_package, out.public_key_package.clone()))
            .map_err(Failure::new)?;
        frost_public(&out.public_key_package)
    }

    /// The digest of the public key material of this node's shares of `generation`.
    fn public_digest(&self, vault_id: &str, generation: u64) -> Result<String, String> {
        let e: EcdsaIncomplete = self
            .load(&Self::share_key(
                vault_id,
                KeyType::EcdsaSecp256k1,
                generation,
            ))?
            .ok_or("no ECDSA share of the current generation")?;
        let ed: FrostShare<Ed25519> = self
            .load(&Self::share_key(vault_id, KeyType::Ed25519, generation))?
            .ok_or("no ed25519 share of the current generation")?;
        let tr: FrostShare<Secp256k1Tr> = self
            .load(&Self::share_key(vault_id, KeyType::Secp256k1Tr, generation))?
            .ok_or("no secp256k1-tr share of the current generation")?;
        let f = |r: Result<Vec<u8>, Failure>| r.map_err(|f| f.reason);
        Ok(mpc_custody::refresh_digest(&[
            (KeyType::EcdsaSecp256k1.as_str(), ecdsa_public(&e)),
            (KeyType::Ed25519.as_str(), f(frost_public(&ed.1))?),
            (KeyType::Secp256k1Tr.as_str(), f(frost_public(&tr.1))?),
        ]))
    }

    /// Deletes this node's shares of `vault_id` that no refresh needs any more: those a failed
    /// refresh left (never in force), and — only once [`CustodyState::verify_refresh_completion`]
    /// accepts the signed reports for the digest of this node's own current shares — those of
    /// older generations. Returns what it deleted.
    pub(super) fn tidy_shares(&self, vault_id: &str) -> Result<Vec<String>, String> {
        let prefix = format!("vault/{vault_id}/");
        let stored = self
            .inner
            .shares
            .key_ids(RecordKind::KeyShare, &prefix)
            .map_err(|e| e.to_string())?;
        let plan = self
            .inner
            .cluster
            .read_state(|s| tidy_plan(s, vault_id))
            .map_err(|e| e.to_string())?;
        let Some(plan) = plan else {
            return Ok(Vec::new());
        };
        let old_ok = if plan.current > 0 {
            let mine = self.public_digest(vault_id, plan.current)?;
            self.inner
                .cluster
                .read_state(|s| s.verify_refresh_completion(vault_id, &mine))
                .map_err(|e| e.to_string())?
                .map(|_| true)
                .map_err(|e| {
                    format!(
                        "old shares kept: the completed refresh of vault {vault_id} does not check \
                         out ({e})"
                    )
                })?
        } else {
            false
        };
        let mut deleted = Vec::new();
        for key in stored {
            let Some(g) = generation_of(&key, &prefix) else {
                continue;
            };
            let delete = g != plan.current
                && Some(g) != plan.running
                && (plan.failed.contains(&g) || (old_ok && g < plan.current));
            if delete {
                self.inner
                    .shares
                    .delete(&key, RecordKind::KeyShare)
                    .map_err(|e| e.to_string())?;
                deleted.push(key);
            }
        }
        if !deleted.is_empty() {
            tracing::info!(vault = %vault_id, "deleted {} replaced key shares", deleted.len());
        }
        self.tidy_pool_records(vault_id)?;
        Ok(deleted)
    }

    /// Deletes the presignatures and nonce slots of the vault's wallets that the log will never
    /// assign again (a refresh restarted the pools; a failed block was dropped): numbers below
    /// the pool's next one that are neither ready, being made, nor named by a current attempt.
    fn tidy_pool_records(&self, vault_id: &str) -> Result<usize, String> {
        let wallets: Vec<String> = self
            .inner
            .cluster
            .read_state(|s| {
                s.wallets(Some(vault_id))
                    .map(|w| w.wallet_id.to_string())
                    .collect()
            })
            .map_err(|e| e.to_string())?;
        let mut deleted = 0;
        for wallet_id in wallets {
            let Some((in_use, next)) = self
                .inner
                .cluster
                .read_state(|s| s.pool_seqs_in_use(&wallet_id))
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            let prefix = format!("presig/{wallet_id}/");
            for kind in [RecordKind::Presignature, RecordKind::Nonces] {
                let keys = self
                    .inner
                    .shares
                    .key_ids(kind, &prefix)
                    .map_err(|e| e.to_string())?;
                for key in keys {
                    let Some(seq) = key
                        .strip_prefix(&prefix)
                        .and_then(|s| s.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    if seq < next && !in_use.contains(&seq) {
                        self.inner
                            .shares
                            .delete(&key, kind)
                            .map_err(|e| e.to_string())?;
                        deleted += 1;
                    }
                }
            }
        }
        if deleted > 0 {
            tracing::info!(vault = %vault_id, "deleted {deleted} presignatures and nonce slots no longer assignable");
        }
        Ok(deleted)
    }
}

/// Which generations of a vault's shares are current, being made, or left by a failed refresh.
struct TidyPlan {
    current: u64,
    running: Option<u64>,
    failed: Vec<u64>,
}

fn tidy_plan(s: &CustodyState, vault_id: &str) -> Option<TidyPlan> {
    let v = s.vault(vault_id)?;
    let failed = v
        .last_refresh
        .iter()
        .filter(|r| matches!(r.status, RefreshStatus::Failed { .. }))
        .map(|r| r.started_log_index)
        .collect();
    Some(TidyPlan {
        current: v.share_generation,
        running: v.refresh.as_ref().map(|r| r.started_log_index),
        failed,
    })
}

/// The generation in a share key `vault/<id>/<kt>[/refresh-<g>]`.
fn generation_of(key: &str, prefix: &str) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    match rest.split_once('/') {
        None => Some(0),
        Some((_, tail)) => tail.strip_prefix("refresh-")?.parse().ok(),
    }
}

fn session_failure(e: SessionError) -> Failure {
    Failure::new(e.to_string())
}

/// Group key and every public share of an ECDSA share, compressed, in keygen order.
fn ecdsa_public(share: &EcdsaIncomplete) -> Vec<u8> {
    let mut out = share.shared_public_key.to_bytes(true).to_vec();
    for p in &share.public_shares {
        out.extend_from_slice(&p.to_bytes(true));
    }
    out
}

/// Group key and every verifying share (by identifier) of a FROST public key package.
fn frost_public<C: frost_core::Ciphersuite>(
    pkp: &frost_core::keys::PublicKeyPackage<C>,
) -> Result<Vec<u8>, Failure> {
    let mut out = pkp
        .verifying_key()
        .serialize()
        .map_err(|e| Failure::new(e.to_string()))?;
    for (id, share) in pkp.verifying_shares() {
        out.extend_from_slice(&id.serialize());
        out.extend_from_slice(&share.serialize().map_err(|e| Failure::new(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_parse_from_share_keys() {
        let p = "vault/v1/";
        assert_eq!(generation_of("vault/v1/ecdsa_secp256k1", p), Some(0));
        assert_eq!(generation_of("vault/v1/ed25519/refresh-42", p), Some(42));
        assert_eq!(generation_of("vault/v1/ed25519/other", p), None);
        assert_eq!(generation_of("vault/v10/ed25519", p), None);
        let key = Runner::share_key("v1", KeyType::Secp256k1Tr, 7);
        assert_eq!(generation_of(&key, p), Some(7));
        assert_eq!(
            generation_of(&Runner::share_key("v1", KeyType::Ed25519, 0), p),
            Some(0)
        );
    }
}
