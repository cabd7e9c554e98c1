//! Syntax checks of every [`Action`] (sizes, ids, names, payload limits), run when a command is
//! verified: before it is proposed and again by `apply` on every node.

use super::{Action, MAX_ROLES};
use crate::types::{validate_id, MAX_NAME_BYTES};
use mpc_protocol::chain::MAX_PAYLOAD_BYTES;

impl Action {
    /// Checks the action's fields: ids, names and sizes within bounds.
    pub(super) fn validate(&self) -> Result<(), String> {
        if let Some(org) = self.org_id() {
            org.validate()?;
        }
        match self {
            Action::NodeReplace {
                replacement, card, ..
            } => {
                if !(1..=crate::membership::MAX_REPLACEMENTS).contains(replacement) {
                    return Err(format!(
                        "replacement must be 1 to {}",
                        crate::membership::MAX_REPLACEMENTS
                    ));
                }
                card.validate()
            }
            Action::NodeRemove { .. } => Ok(()),
            Action::NodeAdd { node_id, card } => {
                if !(1..=crate::membership::MAX_NODE_ID).contains(node_id) {
                    return Err(format!(
                        "node_id must be 1 to {}",
                        crate::membership::MAX_NODE_ID
                    ));
                }
                card.validate()
            }
            Action::OrgSettingsSet { settings, .. } => settings.validate(),
            Action::ProposalApprove {
                proposal_id,
                change_hash,
                ..
            } => {
                proposal_id.validate()?;
                validate_short("change_hash", change_hash)
            }
            Action::ProposalVeto {
                proposal_id,
                reason,
                ..
            } => {
                proposal_id.validate()?;
                validate_name(reason)
            }
            Action::ProposalExecute { proposal_id, .. } => proposal_id.validate(),
            Action::OrgCreate {
                name,
                admin_user_id,
                ..
            } => {
                validate_name(name)?;
                admin_user_id.validate()
            }
            Action::MemberAdd { user_id, roles, .. } => {
                user_id.validate()?;
                if roles.is_empty() || roles.len() > MAX_ROLES {
                    return Err("a member needs 1 to 5 roles".into());
                }
                let mut sorted = roles.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != roles.len() {
                    return Err("roles must not repeat".into());
                }
                Ok(())
            }
            Action::MemberRemove { user_id, .. } => user_id.validate(),
            Action::VaultCreate { vault_id, name, .. } => {
                validate_id("vault_id", vault_id)?;
                validate_name(name)
            }
            Action::VaultRefresh {
                vault_id, reason, ..
            } => {
                validate_id("vault_id", vault_id)?;
                validate_name(reason)
            }
            Action::WalletCreate {
                vault_id, index, ..
            } => {
                validate_id("vault_id", vault_id)?;
                if *index >= 1 << 31 {
                    return Err("index must be below 2^31".into());
                }
                Ok(())
            }
            Action::AddressBookAdd { label, address, .. } => {
                validate_name(label)?;
                validate_short("address", address)
            }
            Action::AddressBookRemove { address, .. } => validate_short("address", address),
            Action::AssetAdd {
                symbol,
                contract,
                decimals,
                ..
            } => {
                crate::asset::validate_symbol(symbol)?;
                validate_short("contract", contract)?;
                if *decimals > crate::asset::MAX_DECIMALS {
                    return Err(format!(
                        "decimals must be at most {}",
                        crate::asset::MAX_DECIMALS
                    ));
                }
                Ok(())
            }
            Action::AssetRemove { symbol, .. } => crate::asset::validate_symbol(symbol),
            Action::WebauthnSet { rp_id, origins, .. } => crate::passkey::WebauthnConfig {
                rp_id: rp_id.clone(),
                origins: origins.clone(),
            }
            .validate(),
            Action::PasskeyInvite {
                user_id, ttl_secs, ..
            } => {
                user_id.validate()?;
                if *ttl_secs == 0 || *ttl_secs > crate::passkey::MAX_INVITATION_TTL_SECS {
                    return Err(format!(
                        "ttl_secs must be 1 to {}",
                        crate::passkey::MAX_INVITATION_TTL_SECS
                    ));
                }
                Ok(())
            }
            Action::PasskeyRegister {
                user_id,
                attestation_object,
                client_data_json,
                ..
            } => {
                user_id.validate()?;
                crate::webauthn::from_b64url(
                    "attestation_object",
                    attestation_object,
                    crate::webauthn::MAX_ATTESTATION_OBJECT_BYTES,
                )?;
                crate::webauthn::from_b64url(
                    "client_data_json",
                    client_data_json,
                    crate::webauthn::MAX_CLIENT_DATA_BYTES,
                )?;
                Ok(())
            }
            Action::PasskeyRevoke {
                user_id,
                credential_id,
                ..
            } => {
                user_id.validate()?;
                crate::webauthn::from_b64url(
                    "credential_id",
                    credential_id,
                    crate::webauthn::MAX_CREDENTIAL_ID_BYTES,
                )
                .map(|_| ())
            }
            Action::PolicySet {
                vault_id, rules, ..
            } => {
                validate_id("vault_id", vault_id)?;
                rules.validate()
            }
            Action::RequestSubmit {
                wallet_id,
                payload,
                extras,
                ..
            } => {
                validate_short("wallet_id", wallet_id)?;
                if payload.is_empty() || payload.len() > 2 * MAX_PAYLOAD_BYTES {
                    return Err(format!(
                        "payload must be 1 to {MAX_PAYLOAD_BYTES} bytes of hex"
                    ));
                }
                if extras.spent_outputs.len() > mpc_protocol::chain::MAX_BTC_INPUTS {
                    return Err("too many spent outputs".into());
                }
                Ok(())
            }
            Action::RequestApprove {
                request_id,
                intent_digest,
                ..
            }
            | Action::RequestAdminApprove {
                request_id,
                intent_digest,
                ..
            } => {
                validate_short("request_id", request_id)?;
                validate_short("intent_digest", intent_digest)
            }
            Action::RequestCancel {
                request_id, reason, ..
            } => {
                validate_short("request_id", request_id)?;
                validate_name(reason)
            }
            Action::RequestReject {
                request_id,
                intent_digest,
                reason,
                ..
            } => {
                validate_short("request_id", request_id)?;
                validate_short("intent_digest", intent_digest)?;
                validate_name(reason)
            }
        }
    }
}

fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!("name must be 1 to {MAX_NAME_BYTES} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(())
}

fn validate_short(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
        return Err(format!("{what} must be 1 to 200 printable characters"));
    }
    Ok(())
}
