//! Presigning: one presignature of a wallet's pool, for the wallet's key and HD path fixed at
//! wallet creation (RUSTSEC-2025-0127), stored sealed and bound to them.

use super::{fresh_rng, presig_key_id, Runner, PRESIGN_TIMEOUT};
use crate::share_store::RecordKind;
use mpc_engine::SessionSpec;
use mpc_protocol::chain::keys;
use mpc_protocol::ecdsa;
use mpc_protocol::session::PartyIndex;
use zeroize::Zeroizing;

impl Runner {
    /// Makes presignature `seq` of a wallet's pool (spec from the engine) and stores it sealed.
    pub(super) fn presign_blocking(&self, spec: &SessionSpec) -> Result<(), String> {
        let SessionSpec::Presign {
            session_id,
            parties,
            keygen_indices,
            aux_attempt,
            store_key,
            vault_id,
            chain,
            network,
            index,
            share_generation,
            ..
        } = spec
        else {
            return Err("not a presigning job".into());
        };
        // Already made (restart before the report was committed): report it again.
        if self
            .inner
            .shares
            .get(store_key, RecordKind::Presignature)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        // Joined once, ever: a presigning session interrupted by a restart is reported failed
        // (the pool schedules a new sequence number) rather than re-entered.
        self.join_once(session_id, "presigning")?;
        let me = *parties.get(&self.me()).ok_or("not a pool signer")?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let share = self.complete_ecdsa_share(vault_id, *share_generation, *aux_attempt)?;
        let path = keys::ecdsa_path(*chain, *network, *index).map_err(|e| e.to_string())?;
        let sid = *session_id;
        let mut rng = fresh_rng()?;
        let mut session = ecdsa::presign(&sid, me, &ps, keygen_indices, &share, &path, &mut rng)
            .map_err(|e| e.to_string())?;
        let mut rng2 = fresh_rng()?;
        let presig = self
            .inner
            .hub
            .run(sid.0, parties, &mut session, &mut rng2, PRESIGN_TIMEOUT)
            .map_err(|e| format!("presigning: {e}"))?;
        let key_id = presig_key_id(vault_id, *chain, *network, *index);
        let stored = ecdsa::BoundPresignature::new(&key_id, &path, presig).into_stored();
        let bytes = Zeroizing::new(mpc_protocol::encode(&stored).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(store_key, RecordKind::Presignature, &bytes)
            .map_err(|e| e.to_string())
    }
}
