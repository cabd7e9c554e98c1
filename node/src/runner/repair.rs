//! Share repair for a replaced node — the new host (the *participant*) gets a share of every key
//! of a vault from `t` helpers, at the lost host's identifier — or for an added node, at its own
//! new identifier (its node id; decision 0027), without any key being reconstructed (`mpc_protocol::frost::repair`; ECDSA through the same scheme over secp256k1).
//!
//! 1. **Public shares.** The new host has nothing, not even the vault's public shares. Every
//!    helper sends its copy ([`AgreePublic`]); the new host goes on only if all copies are
//!    byte-identical and their group keys are the vault's keys in its own log.
//! 2. **Repair** of each key type (ECDSA, ed25519, secp256k1-tr): helpers' deltas with
//!    commitments, sigmas; the new host checks its share against its public share, then stores
//!    it under the vault's current share generation.
//!
//! Helpers only read their shares. Every party got its [`RepairJob`] from
//! `CustodyState::repair_job`, which re-verified the replacement's genesis-admin signatures, and
//! the session hub encrypts to the Noise key pinned from that same verified record.

use super::{fresh_rng, Failure, Runner, REFRESH_TIMEOUT};
use mpc_consensus::raft::NodeId;
use mpc_custody::state::RepairJob;
use mpc_engine::SessionOutcome;
use mpc_protocol::agree::AgreePublic;
use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa;
use mpc_protocol::ecdsa::refresh::EcdsaRepairRole;
use mpc_protocol::ecdsa::reshare::AdditionRole;
use mpc_protocol::frost::repair::FrostRepair;
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

type FrostShare<C> = (
    frost_core::keys::KeyPackage<C>,
    frost_core::keys::PublicKeyPackage<C>,
);
type EcdsaIncomplete = cggmp21::IncompleteKeyShare<ecdsa::Secp256k1>;
type EcdsaInfo = cggmp21::key_share::DirtyKeyInfo<ecdsa::Secp256k1>;

/// Most bytes of public key material a helper may hand over.
const MAX_PUBLIC_BYTES: usize = 64 * 1024;

/// The public key material of a vault, as every helper holds it.
#[derive(Serialize, Deserialize)]
struct PublicMaterial {
    ecdsa: EcdsaInfo,
    ed25519: frost_core::keys::PublicKeyPackage<Ed25519>,
    secp256k1_tr: frost_core::keys::PublicKeyPackage<Secp256k1Tr>,
}

/// ECDSA parties (keygen index + 1 by node), the helpers' keygen indices, the participant's.
type EcdsaParties = (BTreeMap<NodeId, PartyIndex>, Vec<u16>, u16);

/// What one repair needs besides the verified job.
pub(super) struct RepairRun<'a> {
    pub job: &'a RepairJob,
    pub parties: &'a BTreeMap<NodeId, PartyIndex>,
    pub sessions: &'a [(KeyType, SessionId)],
    pub public_session: SessionId,
}

impl Runner {
    /// Runs this node's part of a repair attempt (helper or new host).
    pub(super) fn repair_blocking(&self, run: &RepairRun<'_>) -> SessionOutcome {
        let started = std::time::Instant::now();
        let res = if self.me() == run.job.node_id {
            self.repair_as_participant(run)
        } else {
            self.repair_as_helper(run)
        };
        match res {
            Ok(()) => {
                tracing::info!(
                    vault = %run.job.vault_id,
                    node = run.job.node_id,
                    "repair sessions done in {} ms",
                    started.elapsed().as_millis()
                );
                SessionOutcome::Repaired
            }
            Err(f) => SessionOutcome::RepairFailed {
                reason: f.reason,
                culprits: f.culprits,
            },
        }
    }

    fn sid(run: &RepairRun<'_>, kt: KeyType) -> Result<SessionId, Failure> {
        run.sessions
            .iter()
            .find(|(k, _)| *k == kt)
            .map(|(_, s)| *s)
            .ok_or_else(|| Failure::new(format!("no {} repair session", kt.as_str())))
    }

    /// The party index of `node` in `parties`.
    fn party_of(run: &RepairRun<'_>, node: NodeId) -> Result<PartyIndex, Failure> {
        run.parties
            .get(&node)
            .copied()
            .ok_or_else(|| Failure::new(format!("node {node} is not a party")))
    }

    /// ECDSA parties are the key's evaluation points; the helpers' and the participant's
    /// keygen indices.
    fn ecdsa_parties(job: &RepairJob, info: &EcdsaInfo) -> Result<EcdsaParties, Failure> {
        let index = |n: NodeId| {
            job.committee
                .iter()
                .position(|c| *c == n)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| Failure::new(format!("node {n} is not in the vault's committee")))
        };
        let helpers = job
            .helpers
            .iter()
            .map(|h| index(*h))
            .collect::<Result<Vec<_>, _>>()?;
        let mut parties = BTreeMap::new();
        for n in &job.helpers {
            let p = ecdsa::refresh::party_at(info, index(*n)?)
                .map_err(|e| Failure::new(e.to_string()))?;
            parties.insert(*n, p);
        }
        if job.addition {
            // A new node: its evaluation point is its node id, outside the committee.
            let point = new_point(job)?;
            parties.insert(job.node_id, PartyIndex(point));
            return Ok((parties, helpers, point));
        }
        let participant = index(job.node_id)?;
        let p =
            ecdsa::refresh::party_at(info, participant).map_err(|e| Failure::new(e.to_string()))?;
        parties.insert(job.node_id, p);
        Ok((parties, helpers, participant))
    }

    fn repair_as_helper(&self, run: &RepairRun<'_>) -> Result<(), Failure> {
        let job = run.job;
        // Sub-shares go only to the host this node pinned from the verified replacement (the
        // peer table follows the log within half a second; a retry comes soon enough).
        let pinned = self.inner.cluster.peers().noise_of(job.node_id);
        if pinned.is_none() || pinned != job.card.noise_key_bytes() {
            return Err(Failure::new(format!(
                "node {}'s new host is not pinned here yet",
                job.node_id
            )));
        }
        let g = job.share_generation;
        let ecdsa_share: EcdsaIncomplete = self
            .load(&Self::share_key(&job.vault_id, KeyType::EcdsaSecp256k1, g))
            .map_err(Failure::new)?
            .ok_or_else(|| Failure::new("no ECDSA share of the current generation here"))?;
        let ed: FrostShare<Ed25519> = self.frost_share(job, KeyType::Ed25519)?;
        let tr: FrostShare<Secp256k1Tr> = self.frost_share(job, KeyType::Secp256k1Tr)?;
        let material = PublicMaterial {
            ecdsa: ecdsa_share.key_info.clone(),
            ed25519: ed.1.clone(),
            secp256k1_tr: tr.1.clone(),
        };
        let bytes = mpc_protocol::encode(&material).map_err(|e| Failure::new(e.to_string()))?;
        self.exchange_public(run, Some(bytes))?;

        // ECDSA.
        let (eparties, ehelpers, eparticipant) = Self::ecdsa_parties(job, &ecdsa_share.key_info)?;
        let sid = Self::sid(run, KeyType::EcdsaSecp256k1)?;
        if job.addition {
            let mut session = ecdsa::reshare::addition_session(
                sid,
                &ehelpers,
                eparticipant,
                AdditionRole::Helper(&ecdsa_share),
            )
            .map_err(|e| Failure::new(e.to_string()))?;
            self.run_once(sid, &eparties, &mut session, "ECDSA addition")?;
        } else {
            let mut session = ecdsa::refresh::repair_session(
                sid,
                &ehelpers,
                eparticipant,
                EcdsaRepairRole::Helper(&ecdsa_share),
            )
            .map_err(|e| Failure::new(e.to_string()))?;
            self.run_once(sid, &eparties, &mut session, "ECDSA repair")?;
        }
        // FROST.
        self.help_frost::<Ed25519>(run, KeyType::Ed25519, ed)?;
        self.help_frost::<Secp256k1Tr>(run, KeyType::Secp256k1Tr, tr)?;
        Ok(())
    }

    fn frost_share<C: frost_core::Ciphersuite>(
        &self,
        job: &RepairJob,
        kt: KeyType,
    ) -> Result<FrostShare<C>, Failure> {
        self.load(&Self::share_key(&job.vault_id, kt, job.share_generation))
            .map_err(Failure::new)?
            .ok_or_else(|| {
                Failure::new(format!(
                    "no {} share of the current generation here",
                    kt.as_str()
                ))
            })
    }

    fn help_frost<C: frost_core::Ciphersuite>(
        &self,
        run: &RepairRun<'_>,
        kt: KeyType,
        (kp, pkp): FrostShare<C>,
    ) -> Result<(), Failure> {
        let sid = Self::sid(run, kt)?;
        let (me, helpers, participant) = Self::frost_parties(run, self.me())?;
        let mut session = FrostRepair::<C>::new(sid, me, &helpers, participant, Some(kp), pkp)
            .map_err(|e| Failure::new(e.to_string()))?;
        self.run_once(
            sid,
            run.parties,
            &mut session,
            &format!("{} repair", kt.as_str()),
        )?;
        Ok(())
    }

    /// FROST parties (node ids): this node, the helpers, the repaired node.
    fn frost_parties(
        run: &RepairRun<'_>,
        me: NodeId,
    ) -> Result<(PartyIndex, Vec<PartyIndex>, PartyIndex), Failure> {
        let helpers = run
            .job
            .helpers
            .iter()
            .map(|h| Self::party_of(run, *h))
            .collect::<Result<_, _>>()?;
        Ok((
            Self::party_of(run, me)?,
            helpers,
            Self::party_of(run, run.job.node_id)?,
        ))
    }

    /// Joins session `sid` (once, ever) and runs `session` to its output.
    fn run_once<S: mpc_protocol::session::Session>(
        &self,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        session: &mut S,
        what: &str,
    ) -> Result<S::Output, Failure> {
        self.join_once(&sid, "repair").map_err(Failure::new)?;
        let mut rng = fresh_rng().map_err(Failure::new)?;
        self.inner
            .hub
            .run(sid.0, parties, session, &mut rng, REFRESH_TIMEOUT)
            .map_err(|e| Failure::run(what, e))
    }

    /// The public-material round: a helper sends `mine`; the new host gets the copy every helper
    /// sent identically.
    fn exchange_public(
        &self,
        run: &RepairRun<'_>,
        mine: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let (me, helpers, participant) = Self::frost_parties(run, self.me())?;
        let mut agree = AgreePublic::new(run.public_session, me, &helpers, participant, mine)
            .map_err(|e| Failure::new(e.to_string()))?;
        self.run_once(run.public_session, run.parties, &mut agree, "public shares")
    }

    fn repair_as_participant(&self, run: &RepairRun<'_>) -> Result<(), Failure> {
        let job = run.job;
        let g = job.share_generation;
        let keys = [
            KeyType::EcdsaSecp256k1,
            KeyType::Ed25519,
            KeyType::Secp256k1Tr,
        ]
        .map(|kt| Self::share_key(&job.vault_id, kt, g));
        // After a restart: shares already rebuilt and stored need nothing more.
        let mut have = 0;
        for k in &keys {
            let stored = self
                .inner
                .shares
                .get(k, crate::share_store::RecordKind::KeyShare)
                .map_err(|e| Failure::new(e.to_string()))?;
            if stored.is_some() {
                have += 1;
            }
        }
        if have == keys.len() {
            return Ok(());
        }
        let bytes = self
            .exchange_public(run, None)?
            .ok_or_else(|| Failure::new("no public shares arrived"))?;
        if bytes.len() > MAX_PUBLIC_BYTES {
            return Err(Failure::new("the helpers' public shares are too large"));
        }
        let material: PublicMaterial = mpc_protocol::decode(&bytes, MAX_PUBLIC_BYTES)
            .map_err(|e| Failure::new(format!("the helpers' public shares: {e}")))?;
        check_group_keys(job, &material)?;

        // ECDSA.
        let (eparties, ehelpers, eparticipant) = Self::ecdsa_parties(job, &material.ecdsa)?;
        let sid = Self::sid(run, KeyType::EcdsaSecp256k1)?;
        let share = if job.addition {
            let mut session = ecdsa::reshare::addition_session(
                sid,
                &ehelpers,
                eparticipant,
                AdditionRole::Newcomer(&material.ecdsa),
            )
            .map_err(|e| Failure::new(e.to_string()))?;
            let out = self.run_once(sid, &eparties, &mut session, "ECDSA addition")?;
            ecdsa::reshare::after_addition(&material.ecdsa, eparticipant, &out)
        } else {
            let mut session = ecdsa::refresh::repair_session(
                sid,
                &ehelpers,
                eparticipant,
                EcdsaRepairRole::Participant(&material.ecdsa, eparticipant),
            )
            .map_err(|e| Failure::new(e.to_string()))?;
            let out = self.run_once(sid, &eparties, &mut session, "ECDSA repair")?;
            ecdsa::refresh::repaired_share(&material.ecdsa, eparticipant, &out)
        }
        .map_err(|e| Failure::new(e.to_string()))?;
        // FROST.
        let ed = self.rebuild_frost::<Ed25519>(run, KeyType::Ed25519, material.ed25519)?;
        let tr =
            self.rebuild_frost::<Secp256k1Tr>(run, KeyType::Secp256k1Tr, material.secp256k1_tr)?;
        // Stored only when every key type is rebuilt, so a half repair leaves nothing behind.
        self.store(&keys[0], &share).map_err(Failure::new)?;
        self.store(&keys[1], &ed).map_err(Failure::new)?;
        self.store(&keys[2], &tr).map_err(Failure::new)?;
        Ok(())
    }

    fn rebuild_frost<C: frost_core::Ciphersuite>(
        &self,
        run: &RepairRun<'_>,
        kt: KeyType,
        pkp: frost_core::keys::PublicKeyPackage<C>,
    ) -> Result<FrostShare<C>, Failure> {
        let sid = Self::sid(run, kt)?;
        let (me, helpers, _) = Self::frost_parties(run, self.me())?;
        let mut session = FrostRepair::<C>::new(sid, me, &helpers, me, None, pkp)
            .map_err(|e| Failure::new(e.to_string()))?;
        let out = self.run_once(
            sid,
            run.parties,
            &mut session,
            &format!("{} repair", kt.as_str()),
        )?;
        let kp = out
            .key_package
            .ok_or_else(|| Failure::new("the repair gave the new host no share"))?;
        Ok((kp, out.public_key_package))
    }
}

/// A new node's evaluation point: its node id.
fn new_point(job: &RepairJob) -> Result<u16, Failure> {
    u16::try_from(job.node_id)
        .map_err(|_| Failure::new(format!("node id {} is not a party index", job.node_id)))
}

/// The helpers' public material names the vault's keys as this node's log has them.
fn check_group_keys(job: &RepairJob, m: &PublicMaterial) -> Result<(), Failure> {
    let ecdsa = hex::encode(m.ecdsa.shared_public_key.to_bytes(true));
    let chain_code = m.ecdsa.chain_code.map(hex::encode);
    let ed = m.ed25519.verifying_key().serialize().map(hex::encode).ok();
    let tr = m
        .secp256k1_tr
        .verifying_key()
        .serialize()
        .map(hex::encode)
        .ok();
    let ok = ecdsa == job.keys.ecdsa_public_key
        && chain_code.as_deref() == Some(job.keys.ecdsa_chain_code.as_str())
        && ed.as_deref() == Some(job.keys.ed25519_public_key.as_str())
        && tr.as_deref() == Some(job.keys.secp256k1_tr_public_key.as_str());
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            "the helpers' public shares are not of this vault's keys; refused",
        ))
    }
}
