//! What an approver's CLI checks before it signs an approval (invariant 11): the request's exact
//! payload bytes are re-parsed here with the project's own parsers, for the wallet key derived
//! here from the vault's public keys; the intent and its digest are recomputed here; any
//! difference from what the node says refuses the approval. What is shown is this parse, in
//! human units.

use anyhow::{bail, Context};
use mpc_custody::{intent_digest, Request, Vault, Wallet};
use mpc_protocol::chain::{self, keys, Intent};

/// A request as the approver's own software understands it.
#[derive(Debug)]
pub struct Verified {
    /// The intent parsed here from the payload bytes.
    pub intent: Intent,
    /// The digest computed here (equal to the node's).
    pub digest: String,
}

/// Re-parses `req`'s payload for `wallet` (whose key is derived here from `vault`'s public
/// keys) and recomputes intent and digest for network `cluster_id`; refuses on any mismatch
/// with the node's request.
pub fn verify_request(
    cluster_id: &str,
    req: &Request,
    wallet: &Wallet,
    vault: &Vault,
) -> anyhow::Result<Verified> {
    if wallet.wallet_id != req.wallet_id || vault.vault_id != wallet.vault_id {
        bail!("refusing: the node returned a wallet or vault other than the request's");
    }
    let vault_keys = vault
        .keys
        .as_ref()
        .context("refusing: the vault has no public keys")?;
    let derived = keys::wallet_key(vault_keys, wallet.chain, wallet.network, wallet.index)
        .map_err(|e| anyhow::anyhow!("deriving the wallet key: {e}"))?;
    if derived.address != wallet.address {
        bail!(
            "refusing: the wallet address {} is not the one derived here ({})",
            wallet.address,
            derived.address
        );
    }
    let payload = hex::decode(&req.payload).context("refusing: the payload is not hex")?;
    let mut parsed = chain::parse(&derived, &payload, &req.extras)
        .map_err(|e| anyhow::anyhow!("refusing: the payload does not parse here: {e}"))?;
    // A token transfer: the contract, recipient and amount are this parse's; the symbol and
    // decimals are the organisation's registry entry as the node names it. They are part of the
    // digest: if the node misnamed them, the approval signed here matches no honest node's
    // record and counts nowhere.
    if let (Some(mine), Some(theirs)) = (parsed.intent.token.as_mut(), req.intent.token.as_ref()) {
        if mine.contract == theirs.contract && mine.standard == theirs.standard {
            mine.decimals = theirs.decimals;
            parsed.intent.asset = req.intent.asset.clone();
        }
    }
    wallet
        .check_intent(&parsed.intent)
        .map_err(|e| anyhow::anyhow!("refusing: {e}"))?;
    if parsed.intent != req.intent {
        bail!(
            "refusing: the node's intent differs from the one parsed here from the payload \
             bytes\n  node: {}\n  here: {}",
            serde_json::to_string(&req.intent).unwrap_or_default(),
            serde_json::to_string(&parsed.intent).unwrap_or_default()
        );
    }
    let digest = intent_digest(
        cluster_id,
        &req.request_id,
        &req.wallet_id,
        &payload,
        &req.extras,
        &parsed.intent,
    );
    if digest != req.intent_digest {
        bail!(
            "refusing: the node's intent digest {} differs from the one computed here ({digest})",
            req.intent_digest
        );
    }
    Ok(Verified {
        intent: parsed.intent,
        digest,
    })
}
