//! The address book: add and remove whitelisted destinations; the whitelist check.

use super::{ActionResult, CustodyState, Exec, RecordKey};
use crate::types::OrgId;
use crate::{book_chain, AddressBookEntry, Request};
use mpc_protocol::chain::{self, Chain, Network};

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
        let key = (org_id.clone(), c.as_str().to_string(), address.clone());
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
        let key = (
            org_id.clone(),
            book_chain(*chain).as_str().to_string(),
            address.clone(),
        );
        let Some(entry) = self.address_book.remove(&key) else {
            return Err(format!("address {address} is not in the address book"));
        };
        self.dirty
            .insert(RecordKey::AddressBook(key.0, key.1, key.2));
        Ok(ActionResult::AddressBook {
            entry,
            removed: true,
        })
    }

    pub(super) fn whitelisted(&self, org_id: &OrgId, chain: Chain, address: &str) -> bool {
        self.address_book.contains_key(&(
            org_id.clone(),
            book_chain(chain).as_str().to_string(),
            address.to_string(),
        ))
    }

    pub(super) fn all_whitelisted(&self, req: &Request) -> bool {
        req.intent
            .transfers
            .iter()
            .all(|t| self.whitelisted(&req.org_id, req.intent.chain, &t.to))
    }

    /// Address book of an organisation.
    pub fn address_book<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> impl Iterator<Item = &'a AddressBookEntry> + 'a {
        self.address_book.values().filter(move |e| &e.org_id == org)
    }
}
