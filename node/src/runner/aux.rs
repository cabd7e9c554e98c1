//! ECDSA aux info: this node's Paillier primes, the committee's aux-info session, and the
//! complete ECDSA key share (keygen share + aux info) that presigning and signing need.

use super::{fresh_rng, AuxStatus, Runner, AUX_KEY, AUX_TIMEOUT, AUX_WAIT};
use crate::primes;
use crate::share_store::RecordKind;
use mpc_consensus::raft::NodeId;
use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa::{self, EcdsaAuxInfo, Primes};
use mpc_protocol::session::{PartyIndex, SessionId};
use std::collections::BTreeMap;
use std::time::Duration;
use zeroize::Zeroizing;

impl Runner {
    /// This node's Paillier primes: made by `mpc-node init`; generated here only for a data
    /// directory initialised before that (or the INSECURE fixture in tests).
    fn primes(&self) -> Result<Primes, String> {
        if let Some(p) = primes::load(&self.inner.shares)? {
            return Ok(p);
        }
        self.set_aux(AuxStatus::GeneratingPrimes);
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

    /// Runs the committee's aux info (session `session_id` with `parties`) and stores it sealed;
    /// nothing to do when it is already stored.
    pub(super) fn aux_blocking(
        &self,
        session_id: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
    ) -> Result<(), String> {
        if self
            .inner
            .shares
            .get(AUX_KEY, RecordKind::AuxInfo)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        let primes = self.primes()?;
        self.set_aux(AuxStatus::Running);
        let sid = session_id;
        tracing::info!("running ECDSA aux info with {} nodes", parties.len());
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
            .put(AUX_KEY, RecordKind::AuxInfo, &bytes)
            .map_err(|e| e.to_string())?;
        tracing::info!("aux info done in {:.1} s", t.elapsed().as_secs_f64());
        Ok(())
    }

    /// This node's complete ECDSA key share of `vault_id` (its keygen share and the committee's
    /// aux info, waiting up to `AUX_WAIT` for the latter).
    pub(super) fn complete_ecdsa_share(
        &self,
        vault_id: &str,
    ) -> Result<ecdsa::EcdsaKeyShare, String> {
        let waited = std::time::Instant::now();
        let aux: EcdsaAuxInfo = loop {
            match self
                .inner
                .shares
                .get(AUX_KEY, RecordKind::AuxInfo)
                .map_err(|e| e.to_string())?
            {
                Some(b) => {
                    break mpc_protocol::decode(&b, 4 * 1024 * 1024).map_err(|e| e.to_string())?
                }
                None if waited.elapsed() < AUX_WAIT => {
                    std::thread::sleep(Duration::from_millis(250))
                }
                None => return Err("ECDSA aux info is not ready".into()),
            }
        };
        let incomplete: cggmp21::IncompleteKeyShare<ecdsa::Secp256k1> = self
            .load(&Self::share_key(vault_id, KeyType::EcdsaSecp256k1))?
            .ok_or("no ECDSA share for this vault")?;
        ecdsa::complete(incomplete, aux).map_err(|e| e.to_string())
    }
}
