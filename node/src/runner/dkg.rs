//! Vault DKG: cggmp21 keygen (ECDSA) and FROST DKG (ed25519, secp256k1-tr), shares stored
//! sealed; and the share-store helpers the other jobs use.

use super::{fresh_rng, Runner, DKG_TIMEOUT};
use crate::share_store::RecordKind;
use mpc_consensus::raft::NodeId;
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::chain::KeyType;
use mpc_protocol::ecdsa;
use mpc_protocol::frost::dkg::{DkgMode, FrostDkg};
use mpc_protocol::frost::{Ed25519, Secp256k1Tr};
use mpc_protocol::session::{PartyIndex, SessionId};
use serde::Serialize;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

impl Runner {
    /// The share-store key of this node's `kt` share of `vault_id` of share generation
    /// `generation` (0: made by the DKG; else the log index of the refresh that made it).
    pub(super) fn share_key(vault_id: &str, kt: KeyType, generation: u64) -> String {
        match generation {
            0 => format!("vault/{vault_id}/{}", kt.as_str()),
            g => format!("vault/{vault_id}/{}/refresh-{g}", kt.as_str()),
        }
    }

    /// Runs DKG for the three key types of `vault_id` (sessions fixed by the engine) and returns
    /// the public keys this node holds shares of. A key type already stored is not run again.
    pub(super) fn dkg_blocking(
        &self,
        vault_id: &str,
        parties: &BTreeMap<NodeId, PartyIndex>,
        t: u16,
        sessions: &[(KeyType, SessionId)],
    ) -> Result<VaultPublicKeys, String> {
        let me = *parties
            .get(&self.me())
            .ok_or("not in the vault's committee")?;
        let ps: Vec<PartyIndex> = parties.values().copied().collect();
        let sid = |kt: KeyType| {
            sessions
                .iter()
                .find(|(k, _)| *k == kt)
                .map(|(_, s)| *s)
                .ok_or_else(|| format!("no {} DKG session", kt.as_str()))
        };
        let started = std::time::Instant::now();
        // ECDSA (cggmp21 keygen; aux info completes the share at signing time).
        let ek = Self::share_key(vault_id, KeyType::EcdsaSecp256k1, 0);
        let ecdsa_share = match self.load::<cggmp21::IncompleteKeyShare<ecdsa::Secp256k1>>(&ek)? {
            Some(s) => s,
            None => {
                let s = sid(KeyType::EcdsaSecp256k1)?;
                self.join_once(&s, "DKG")?;
                let mut rng = fresh_rng()?;
                let mut session =
                    ecdsa::keygen(&s, me, &ps, t, &mut rng).map_err(|e| e.to_string())?;
                let mut rng2 = fresh_rng()?;
                let share = self
                    .inner
                    .hub
                    .run(s.0, parties, &mut session, &mut rng2, DKG_TIMEOUT)
                    .map_err(|e| format!("ECDSA keygen: {e}"))?;
                self.store(&ek, &share)?;
                share
            }
        };
        let (pk, cc) = ecdsa::public_parts(&ecdsa_share);
        let ed = self.frost_dkg::<Ed25519>(
            vault_id,
            KeyType::Ed25519,
            sid(KeyType::Ed25519)?,
            parties,
            me,
            &ps,
            t,
        )?;
        let tr = self.frost_dkg::<Secp256k1Tr>(
            vault_id,
            KeyType::Secp256k1Tr,
            sid(KeyType::Secp256k1Tr)?,
            parties,
            me,
            &ps,
            t,
        )?;
        tracing::info!(vault = %vault_id, "DKG done in {} ms", started.elapsed().as_millis());
        Ok(VaultPublicKeys {
            ecdsa_public_key: hex::encode(pk),
            ecdsa_chain_code: hex::encode(cc.ok_or("ECDSA key has no chain code")?),
            ed25519_public_key: ed,
            secp256k1_tr_public_key: tr,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn frost_dkg<C: frost_core::Ciphersuite>(
        &self,
        vault_id: &str,
        kt: KeyType,
        sid: SessionId,
        parties: &BTreeMap<NodeId, PartyIndex>,
        me: PartyIndex,
        ps: &[PartyIndex],
        t: u16,
    ) -> Result<String, String> {
        let key = Self::share_key(vault_id, kt, 0);
        let pkp = match self.load::<(
            frost_core::keys::KeyPackage<C>,
            frost_core::keys::PublicKeyPackage<C>,
        )>(&key)?
        {
            Some((_, pkp)) => pkp,
            None => {
                self.join_once(&sid, "DKG")?;
                let mut session = FrostDkg::<C>::new(sid, me, ps, t, DkgMode::Fresh)
                    .map_err(|e| e.to_string())?;
                let mut rng = fresh_rng()?;
                let out = self
                    .inner
                    .hub
                    .run(sid.0, parties, &mut session, &mut rng, DKG_TIMEOUT)
                    .map_err(|e| format!("{} DKG: {e}", kt.as_str()))?;
                self.store(&key, &(out.key_package, out.public_key_package.clone()))?;
                out.public_key_package
            }
        };
        pkp.verifying_key()
            .serialize()
            .map(hex::encode)
            .map_err(|e| e.to_string())
    }

    /// Records that this node joins session `sid`; an error if it already did (before a
    /// restart): a session is never re-entered with fresh randomness under the same id.
    pub(super) fn join_once(&self, sid: &SessionId, what: &str) -> Result<(), String> {
        match self.inner.shares.join_session_once(&sid.0) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "this node already joined this {what} session (before a restart)"
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) fn store<T: Serialize>(&self, key: &str, value: &T) -> Result<(), String> {
        let bytes = Zeroizing::new(mpc_protocol::encode(value).map_err(|e| e.to_string())?);
        self.inner
            .shares
            .put(key, RecordKind::KeyShare, &bytes)
            .map_err(|e| e.to_string())
    }

    pub(super) fn load<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, String> {
        match self
            .inner
            .shares
            .get(key, RecordKind::KeyShare)
            .map_err(|e| e.to_string())?
        {
            Some(b) => mpc_protocol::decode(&b, 4 * 1024 * 1024)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }
}
