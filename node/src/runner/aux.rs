//! ECDSA aux info: this node's Paillier primes, the committee's aux-info session, and the
//! complete ECDSA key share (keygen share + aux info) that presigning and signing need.

use super::{aux_key, fresh_rng, AuxStatus, Runner, AUX_TIMEOUT};
use crate::primes;
use crate::share_store::RecordKind;
use mpc_consensus::raft::NodeId;
use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa::{self, EcdsaAuxInfo, Primes};
use mpc_protocol::session::{PartyIndex, SessionId};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

impl Runner {
    /// This node's Paillier primes: made by `mpc-node init`; generated here only for a data
    /// directory initialised before that (or the INSECURE fixture in tests).
    fn primes(&self, attempt: u32) -> Result<Primes, String> {
        if let Some(p) = primes::load(&self.inner.shares)? {
            return Ok(p);
        }
        self.set_aux(AuxStatus::GeneratingPrimes { attempt });
        tracing::info!("generating Paillier safe primes for ECDSA aux info (one-off)");
        let (p, source) = primes::ensure(
            &self.inner.shares,
            self.me(),
            self.inner.insecure_primes.as_deref(),
            &|secs| {
                if secs % 15 == 0 {
                    tracing::info!("still generating Paillier safe primes ({secs} s)");
                }
            },
        )?;
        tracing::info!(?source, "Paillier primes ready");
        Ok(p)
    }

    /// Runs attempt `attempt` of the committee's aux info (session `session_id` with
    /// `parties`) and stores it sealed; nothing to do when it is already stored. A node joins
    /// an attempt once, ever: one interrupted by a restart fails, and the log moves everyone to
    /// the next attempt.
    pub(super) fn aux_blocking(
        &self,
        attempt: u32,
        session_id: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
    ) -> Result<(), String> {
        let key = aux_key(attempt);
        if self
            .inner
            .shares
            .get(&key, RecordKind::AuxInfo)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        self.join_once(&session_id, "aux-info")?;
        let primes = self.primes(attempt)?;
        self.set_aux(AuxStatus::Running { attempt });
        let sid = session_id;
        tracing::info!(
            attempt,
            "running ECDSA aux info with {} nodes",
            parties.len()
        );
        let t = std::time::Instant::now();
        let mut rng = fresh_rng()?;
        let me = *parties.get(&self.me()).ok_or("not in the committee")?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let mut session =
            ecdsa::aux_info(&sid, me, &ps, primes, &mut rng).map_err(|e| e.to_string())?;
        let mut rng2 = fresh_rng()?;
        let aux = self
            .inner
            .hub
            .run(sid.0, parties, &mut session, &mut rng2, AUX_TIMEOUT)
            .map_err(|e| e.reason)?;
        let bytes = Zeroizing::new(mpc_protocol::encode(&aux).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(&key, RecordKind::AuxInfo, &bytes)
            .map_err(|e| e.to_string())?;
        tracing::info!(
            attempt,
            "aux info done in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// This node's complete ECDSA key share of `vault_id`: its keygen share and the aux info of
    /// attempt `aux_attempt`, which the log shows every node stored.
    pub(super) fn complete_ecdsa_share(
        &self,
        vault_id: &str,
        generation: u64,
        aux_attempt: u32,
    ) -> Result<ecdsa::EcdsaKeyShare, String> {
        let bytes = self
            .inner
            .shares
            .get(&aux_key(aux_attempt), RecordKind::AuxInfo)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("aux info of attempt {aux_attempt} is not in this node's store")
            })?;
        let aux: EcdsaAuxInfo =
            mpc_protocol::decode(&bytes, 4 * 1024 * 1024).map_err(|e| e.to_string())?;
        let incomplete: cggmp21::IncompleteKeyShare<ecdsa::Secp256k1> = self
            .load(&Self::share_key(
                vault_id,
                KeyType::EcdsaSecp256k1,
                generation,
            ))?
            .ok_or_else(|| {
                format!(
                    "no ECDSA share of generation {generation} for this vault in this node's store"
                )
            })?;
        ecdsa::complete(incomplete, aux).map_err(|e| e.to_string())
    }
}
