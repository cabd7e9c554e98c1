//! `mpc node replace` / `mpc node add`: a genesis admin's signature on a network change.

use anyhow::Context;
use mpc_bootstrap::identity::IdentityCard;
use mpc_custody::command::Action;
use mpc_custody::membership::NodeCard;
use mpc_custody::types::UserKey;
use std::path::Path;

/// Largest identity card file read.
const MAX_CARD_BYTES: u64 = 16 * 1024;

/// The `node_replace` action for the new host's identity card at `card`.
pub(crate) fn replace_action(
    node_id: u64,
    replacement: u32,
    card: &Path,
) -> anyhow::Result<Action> {
    Ok(Action::NodeReplace {
        node_id,
        replacement,
        card: read_card(node_id, card)?,
    })
}

/// The `node_add` action for the new node's identity card at `card`.
pub(crate) fn add_action(node_id: u64, card: &Path) -> anyhow::Result<Action> {
    Ok(Action::NodeAdd {
        node_id,
        card: read_card(node_id, card)?,
    })
}

/// The identity card at `card`, which must be node `node_id`'s.
fn read_card(node_id: u64, card: &Path) -> anyhow::Result<NodeCard> {
    let len = std::fs::metadata(card)
        .with_context(|| format!("reading {}", card.display()))?
        .len();
    if len > MAX_CARD_BYTES {
        anyhow::bail!("{} is not an identity card ({len} bytes)", card.display());
    }
    let text =
        std::fs::read_to_string(card).with_context(|| format!("reading {}", card.display()))?;
    let id: IdentityCard = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an identity card", card.display()))?;
    id.validate()?;
    if id.node_id != node_id {
        anyhow::bail!(
            "the card is for node {}, not node {node_id}: initialise the new host with the node \
             id it takes",
            id.node_id
        );
    }
    let card = NodeCard {
        identity_key: UserKey(id.identity_key()?),
        noise_key: id.noise_public_key,
        p2p_addr: id.p2p_addr,
        rpc_addr: id.rpc_addr,
        rpc_tls_sha256: id.rpc_tls_sha256,
    };
    card.validate().map_err(|e| anyhow::anyhow!(e))?;
    Ok(card)
}
