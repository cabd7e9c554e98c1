//! Presignature and nonce pools in the engine: starting the ECDSA presignatures and the FROST
//! nonce blocks (decision 0034) a pool of this node asks for.

use super::{keygen_indices, parties, AuxState, Engine};
use crate::io::{Action, Job, SessionSpec};
use mpc_custody::state::CustodyState;
use mpc_custody::types::WalletId;

impl Engine {
    /// Starts the presigning every pool of this node asks for (when aux info is ready and no
    /// interactive signature runs).
    pub(super) fn start_pools(&mut self, state: &CustodyState, out: &mut Vec<Action>) {
        let pools: Vec<WalletId> = self.my_pools.iter().cloned().collect();
        for wallet_id in pools {
            self.pool_changed(state, &wallet_id, out);
        }
    }

    /// Follows a pool record of the log: starts what this node, a pool signer, has not stored.
    pub(super) fn pool_changed(
        &mut self,
        state: &CustodyState,
        wallet_id: &WalletId,
        out: &mut Vec<Action>,
    ) {
        let Some(pool) = state.presig_pool(wallet_id) else {
            return;
        };
        if !pool.signers.contains(&self.me) {
            return;
        }
        self.my_pools.insert(wallet_id.clone());
        self.forget_stale(
            state,
            |j| matches!(j, Job::Presign { wallet_id: w, .. } if w == wallet_id),
        );
        if pool.frost {
            self.frost_pool_changed(state, wallet_id, out);
            return;
        }
        // Presignatures need the committee's aux info; they start once it is ready, lowest
        // sequence number first (every signer runs them in the same order).
        let AuxState::Ready(aux_attempt) = self.aux else {
            return;
        };
        if !self.interactive.is_empty() {
            return;
        }
        let Some(wallet) = state.wallet(wallet_id) else {
            return;
        };
        // A signer whose shares are being repaired has none to presign with yet (the refresh
        // that follows the repair restarts the pool).
        let repairing = state
            .vault(&wallet.vault_id)
            .and_then(|v| v.repair.as_ref())
            .is_some_and(|r| pool.signers.contains(&r.node_id));
        if repairing {
            return;
        }
        // Aux info is the network committee's: presign only for a vault it holds.
        let Some(vault) = state.vault(&wallet.vault_id) else {
            return;
        };
        if vault.committee != self.committee {
            return;
        }
        let Some(keygen) = keygen_indices(&pool.signers, &vault.committee) else {
            return;
        };
        for (seq, reported) in &pool.generating {
            let job = Job::Presign {
                wallet_id: wallet_id.clone(),
                seq: *seq,
            };
            if reported.contains(&self.me) || !self.jobs.insert(job.clone()) {
                continue;
            }
            out.push(Action::Start {
                job,
                spec: SessionSpec::Presign {
                    wallet_id: wallet_id.clone(),
                    seq: *seq,
                    session_id: pool.session_id(&self.cluster_id, *seq),
                    parties: parties(&pool.signers),
                    keygen_indices: keygen.clone(),
                    aux_attempt,
                    store_key: pool.store_key(*seq),
                    vault_id: wallet.vault_id.clone(),
                    chain: wallet.chain,
                    network: wallet.network,
                    index: wallet.index,
                    share_generation: state
                        .vault(&wallet.vault_id)
                        .map_or(0, |v| v.share_generation),
                },
            });
        }
    }

    /// Starts the nonce blocks of a FROST pool this node has not stored (decision 0034). Unlike
    /// presigning they need no aux info and are cheap (a scalar multiplication per nonce and one
    /// message per block), so they run beside signing rather than behind it: a busy wallet's
    /// pool keeps up with its requests.
    fn frost_pool_changed(
        &mut self,
        state: &CustodyState,
        wallet_id: &WalletId,
        out: &mut Vec<Action>,
    ) {
        let (Some(pool), Some(wallet)) = (state.presig_pool(wallet_id), state.wallet(wallet_id))
        else {
            return;
        };
        let Some(vault) = state.vault(&wallet.vault_id) else {
            return;
        };
        // A signer whose shares are being repaired has none to hedge with yet (the refresh
        // that follows the repair restarts the pool).
        if vault
            .repair
            .as_ref()
            .is_some_and(|r| pool.signers.contains(&r.node_id))
        {
            return;
        }
        for (seq, reported) in &pool.generating {
            let (first, count) = pool.block_of(*seq);
            let job = Job::Presign {
                wallet_id: wallet_id.clone(),
                seq: first,
            };
            if first != *seq || reported.contains(&self.me) || !self.jobs.insert(job.clone()) {
                continue;
            }
            out.push(Action::Start {
                job,
                spec: SessionSpec::FrostNonces {
                    wallet_id: wallet_id.clone(),
                    first_seq: first,
                    count,
                    session_id: pool.session_id(&self.cluster_id, first),
                    parties: parties(&pool.signers),
                    vault_id: wallet.vault_id.clone(),
                    key_type: wallet.key_type,
                    share_generation: vault.share_generation,
                },
            });
        }
    }
}
