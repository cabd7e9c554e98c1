//! The address book: add and remove whitelisted destinations; the whitelist check.

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::types::OrgId;
use crate::{book_chain, AddressBookEntry, Request};
use mpc_protocol::chain::{self, Chain, Network};

/// An address-book entry's place: organisation, chain family, network, canonical address.
pub(super) type BookKey = (OrgId, String, String, String);

/// The key of `address` for `chain` (Bitcoin kinds share one list) on `network`.
pub(super) fn book_key(org_id: &OrgId, chain: Chain, network: Network, address: &str) -> BookKey {
    let net = match network {
        Network::Mainnet => "mainnet",
        Network::Testnet => "testnet",
    };
    (
        org_id.clone(),
        book_chain(chain).as_str().to_string(),
        net.to_string(),
        address.to_string(),
    )
}

impl CustodyState {
    pub(super) fn address_book_add(
        &mut self,
        x: &Exec<'_>,
        org_id: &OrgId,
        chain: &Chain,
        network: &Network,
        address: &str,
        label: &str,
    ) -> Result<ActionResult, String> {
        let address =
            chain::normalize_address(*chain, *network, address).map_err(|e| e.to_string())?;
        let c = book_chain(*chain);
        let key = book_key(org_id, *chain, *network, &address);
        if self.address_book.contains_key(&key) {
            return Err(format!("address {address} is already in the address book"));
        }
        let entry = AddressBookEntry {
            org_id: org_id.clone(),
            chain: c,
            network: *network,
            address: address.clone(),
            label: label.to_string(),
            added_at_ms: x.now_ms,
            adoption: x.adoption.clone().map(Box::new),
        };
        self.dirty.insert(RecordKey::AddressBook(
            key.0.clone(),
            key.1.clone(),
            key.2.clone(),
            key.3.clone(),
        ));
        self.address_book.insert(key, entry.clone());
        Ok(ActionResult::AddressBook {
            entry,
            removed: false,
        })
    }

    pub(super) fn address_book_remove(
        &mut self,
        org_id: &OrgId,
        chain: &Chain,
        network: &Network,
        address: &str,
    ) -> Result<ActionResult, String> {
        let address =
            chain::normalize_address(*chain, *network, address).map_err(|e| e.to_string())?;
        let key = book_key(org_id, *chain, *network, &address);
        let Some(entry) = self.address_book.remove(&key) else {
            return Err(format!("address {address} is not in the address book"));
        };
        self.dirty
            .insert(RecordKey::AddressBook(key.0, key.1, key.2, key.3));
        Ok(ActionResult::AddressBook {
            entry,
            removed: true,
        })
    }

    pub(super) fn whitelisted(
        &self,
        org_id: &OrgId,
        chain: Chain,
        network: Network,
        address: &str,
    ) -> bool {
        self.address_book
            .contains_key(&book_key(org_id, chain, network, address))
    }

    /// Every destination of `req` is in the address book for the request's chain and network.
    pub(super) fn all_whitelisted(&self, req: &Request) -> bool {
        req.intent
            .transfers
            .iter()
            .all(|t| self.whitelisted(&req.org_id, req.intent.chain, req.intent.network, &t.to))
    }

    /// Address book of an organisation.
    pub fn address_book<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> impl Iterator<Item = &'a AddressBookEntry> + 'a {
        self.address_book.values().filter(move |e| &e.org_id == org)
    }
}
