//! The organisation's address book: whitelisted destinations per chain and network.

use crate::types::OrgId;
use mpc_protocol::chain::{Chain, Network};
use serde::{Deserialize, Serialize};

/// A whitelisted destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBookEntry {
    /// Organisation.
    pub org_id: OrgId,
    /// Chain family: Bitcoin entries apply to both Bitcoin wallet kinds.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Canonical address.
    pub address: String,
    /// Label.
    pub label: String,
    /// When added (ms).
    pub added_at_ms: u64,
    /// The signed evidence that the organisation's admins adopted this entry.
    #[serde(default)]
    pub adoption: Option<Box<crate::Adoption>>,
}

/// The address-book key of a chain (Bitcoin kinds share one list).
pub fn book_chain(chain: Chain) -> Chain {
    match chain {
        Chain::BitcoinP2tr => Chain::BitcoinP2wpkh,
        c => c,
    }
}
