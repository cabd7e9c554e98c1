//! An organisation's asset registry: the tokens it custodies, each named by its contract (or
//! mint) on one chain and network, with the symbol and decimals people read. Changed only
//! through governance (an admin quorum), like the address book; a signer re-verifies the
//! adoption of the entry a token request relies on (invariant 2).
//!
//! A token transfer whose contract is not in the registry is refused at submission: the
//! network never shows an approver an amount it cannot scale, nor a symbol it made up.

use crate::types::OrgId;
use mpc_protocol::chain::{Chain, Network};
use serde::{Deserialize, Serialize};

/// Most decimals a token may declare.
pub const MAX_DECIMALS: u8 = 36;

/// A registered token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Organisation.
    pub org_id: OrgId,
    /// Symbol, unique in the organisation (policies name assets by it).
    pub symbol: String,
    /// Chain (Ethereum: ERC-20; Solana: an SPL Token mint).
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Contract address (EIP-55) or mint (base58).
    pub contract: String,
    /// Decimals of the token's smallest unit.
    pub decimals: u8,
    /// When added (ms).
    pub added_at_ms: u64,
    /// The signed evidence that the organisation's admins adopted this entry.
    #[serde(default)]
    pub adoption: Option<Box<crate::Adoption>>,
}

/// Checks a token symbol: 1 to 12 characters of `A–Z`, `0–9`, `.` and `-`, starting with a
/// letter, and not a native asset's symbol.
pub fn validate_symbol(s: &str) -> Result<(), String> {
    let ok = (1..=12).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !ok {
        return Err(format!(
            "symbol '{}' must be 1 to 12 of A-Z, 0-9, '.', '-', starting with a letter",
            s.chars().take(20).collect::<String>()
        ));
    }
    if matches!(s, "ETH" | "BTC" | "SOL") {
        return Err(format!("{s} is a native asset, not a token"));
    }
    Ok(())
}
