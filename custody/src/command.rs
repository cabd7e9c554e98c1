//! Signed custody commands.
//!
//! A user signs the *exact JSON text* of a [`CommandBody`]; the envelope [`SignedCommand`] carries
//! that text unchanged, so no canonicalisation is needed to verify it: the signature covers
//! `domain::COMMAND_SIGNATURE || body`. The body names the cluster (genesis hash) so that a
//! command signed for one network is worthless on another, and carries an idempotency key so that
//! a retried or replayed command is applied at most once.

use crate::governance::OrgSettings;
use crate::types::{
    OrgId, ProposalId, RequestId, Role, UserId, UserKey, VaultId, WalletId,
    MAX_IDEMPOTENCY_KEY_BYTES,
};
use crate::PolicyRules;
use ed25519_dalek::{Signature, VerifyingKey};
use mpc_protocol::chain::{Chain, Network, PayloadExtras};
use mpc_protocol::domain;
use mpc_protocol::limits::MAX_COMMAND_BODY_BYTES;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most roles one member can hold (there are five).
const MAX_ROLES: usize = 5;

mod validate;

/// The envelope a user sends: body text, signer key and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCommand {
    /// The JSON text of a [`CommandBody`], exactly as signed.
    pub body: String,
    /// The signer's Ed25519 public key (hex).
    pub signer: UserKey,
    /// Ed25519 signature (hex, 64 bytes) over `COMMAND_SIGNATURE || body`.
    pub signature: String,
}

/// What the user asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// Hex genesis hash of the network this command is meant for.
    pub cluster: String,
    /// Client-chosen key; the same signer and key are applied at most once.
    pub idempotency_key: String,
    /// The state change.
    pub action: Action,
}

/// A state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Replace a lost node by a new host (genesis admins only; takes effect when a majority of
    /// them, at least two, signed the same replacement: [`crate::membership`]).
    NodeReplace {
        /// The node whose place the new host takes.
        node_id: crate::ids::NodeId,
        /// The node's replacement number: 1 for its first, then 2, …
        replacement: u32,
        /// The new host's identity card.
        card: crate::membership::NodeCard,
    },
    /// Add a new node to the network (genesis admins only, same quorum as `node_replace`):
    /// every vault gives it a share and refreshes ([`crate::membership::NodeAddition`]).
    NodeAdd {
        /// The new node's id: larger than every node id used before.
        node_id: crate::ids::NodeId,
        /// Its identity card.
        card: crate::membership::NodeCard,
    },
    /// Remove a node from the network for good (genesis admins only, same quorum as
    /// `node_replace`): every vault refreshes among the staying nodes ([`crate::membership`]).
    NodeRemove {
        /// The node removed.
        node_id: crate::ids::NodeId,
    },
    /// Create an organisation (genesis admins only); its first admin member is the key
    /// `admin_public_key`, or the signer when absent. A genesis admin holds no other power.
    OrgCreate {
        /// New organisation id.
        org_id: OrgId,
        /// Display name.
        name: String,
        /// User id of the first admin.
        admin_user_id: UserId,
        /// The first admin's Ed25519 key (default: the signer's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        admin_public_key: Option<UserKey>,
    },
    /// Change the organisation's governance settings (governed).
    OrgSettingsSet {
        /// Organisation.
        org_id: OrgId,
        /// The new settings.
        settings: OrgSettings,
    },
    /// An admin approves a pending governance proposal: signs its id and change hash.
    ProposalApprove {
        /// Organisation.
        org_id: OrgId,
        /// Proposal.
        proposal_id: ProposalId,
        /// The change hash the admin computed from the change it read.
        change_hash: String,
    },
    /// An admin vetoes a pending or time-locked proposal.
    ProposalVeto {
        /// Organisation.
        org_id: OrgId,
        /// Proposal.
        proposal_id: ProposalId,
        /// Why.
        reason: String,
    },
    /// An admin executes a proposal whose time-lock has passed.
    ProposalExecute {
        /// Organisation.
        org_id: OrgId,
        /// Proposal.
        proposal_id: ProposalId,
    },
    /// Add a member with roles to an organisation.
    MemberAdd {
        /// Organisation.
        org_id: OrgId,
        /// New member's user id.
        user_id: UserId,
        /// New member's Ed25519 public key.
        public_key: UserKey,
        /// Roles granted.
        roles: Vec<Role>,
    },
    /// Remove a member from an organisation.
    MemberRemove {
        /// Organisation.
        org_id: OrgId,
        /// Member to remove.
        user_id: UserId,
    },
    /// Create a vault; every node then runs DKG for each key type.
    VaultCreate {
        /// Organisation.
        org_id: OrgId,
        /// New vault id (unique in the network).
        vault_id: VaultId,
        /// Display name.
        name: String,
    },
    /// Refresh an active vault's key shares now (every key type; same keys and addresses, new
    /// shares; old shares and presignatures become useless).
    VaultRefresh {
        /// Organisation.
        org_id: OrgId,
        /// Vault.
        vault_id: VaultId,
        /// Why (shown in the vault's record and the audit log), e.g. "operator left".
        reason: String,
    },
    /// Derive a wallet from an active vault.
    WalletCreate {
        /// Organisation.
        org_id: OrgId,
        /// Vault.
        vault_id: VaultId,
        /// Chain.
        chain: Chain,
        /// Network.
        network: Network,
        /// Derivation index (below 2^31).
        index: u32,
        /// Ethereum: the chain id the wallet signs for (default: 1 on mainnet, Sepolia's
        /// 11155111 on testnet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain_id: Option<u64>,
    },
    /// Whitelist an address.
    AddressBookAdd {
        /// Organisation.
        org_id: OrgId,
        /// Chain (Bitcoin kinds share one list).
        chain: Chain,
        /// Network.
        network: Network,
        /// Address.
        address: String,
        /// Label.
        label: String,
    },
    /// Remove an address from the whitelist.
    AddressBookRemove {
        /// Organisation.
        org_id: OrgId,
        /// Chain.
        chain: Chain,
        /// Network.
        network: Network,
        /// Address.
        address: String,
    },
    /// Register a token in the organisation's asset registry.
    AssetAdd {
        /// Organisation.
        org_id: OrgId,
        /// Symbol (unique in the organisation).
        symbol: String,
        /// Chain (ethereum: an ERC-20 contract).
        chain: Chain,
        /// Network.
        network: Network,
        /// Contract address.
        contract: String,
        /// Decimals.
        decimals: u8,
    },
    /// Remove a token from the registry.
    AssetRemove {
        /// Organisation.
        org_id: OrgId,
        /// Symbol.
        symbol: String,
    },
    /// Set the organisation's WebAuthn relying party: RP id and allowed origins (governed).
    WebauthnSet {
        /// Organisation.
        org_id: OrgId,
        /// RP id.
        rp_id: String,
        /// Allowed origins.
        origins: Vec<String>,
    },
    /// Invite a member to register a passkey (governed): the invitee will sign the
    /// registration with the secret of `invite_key`.
    PasskeyInvite {
        /// Organisation.
        org_id: OrgId,
        /// The member.
        user_id: UserId,
        /// One-time Ed25519 invitation key (its secret is in the invitation link).
        invite_key: UserKey,
        /// How long the invitation stays open, in seconds (at most 7 days).
        ttl_secs: u64,
    },
    /// Register a passkey through an invitation; signed with the invitation key. Carries what
    /// `navigator.credentials.create` returned, unchanged.
    PasskeyRegister {
        /// Organisation.
        org_id: OrgId,
        /// The member the invitation names.
        user_id: UserId,
        /// The attestation object, base64url.
        attestation_object: String,
        /// clientDataJSON, base64url.
        client_data_json: String,
    },
    /// Revoke a member's passkey (governed).
    PasskeyRevoke {
        /// Organisation.
        org_id: OrgId,
        /// The member.
        user_id: UserId,
        /// Credential id, base64url.
        credential_id: String,
    },
    /// Set (replace) a vault's policy; the version increases.
    PolicySet {
        /// Organisation.
        org_id: OrgId,
        /// Vault.
        vault_id: VaultId,
        /// The rules.
        rules: PolicyRules,
    },
    /// Submit an unsigned transaction for signing.
    RequestSubmit {
        /// Organisation.
        org_id: OrgId,
        /// Wallet.
        wallet_id: WalletId,
        /// Unsigned payload, hex.
        payload: String,
        /// Chain extras (Bitcoin spent outputs).
        #[serde(default)]
        extras: PayloadExtras,
    },
    /// Approve a request: the command, signed by the approver, is the approval signature over
    /// the intent digest.
    RequestApprove {
        /// Organisation.
        org_id: OrgId,
        /// Request.
        request_id: RequestId,
        /// The digest the approver saw.
        intent_digest: String,
    },
    /// Reject a request.
    RequestReject {
        /// Organisation.
        org_id: OrgId,
        /// Request.
        request_id: RequestId,
        /// The digest the approver saw.
        intent_digest: String,
        /// Why.
        reason: String,
    },
    /// Cancel a request that is not yet signing (its initiator or an org admin).
    RequestCancel {
        /// Organisation.
        org_id: OrgId,
        /// Request.
        request_id: RequestId,
        /// Why.
        reason: String,
    },
    /// An organisation admin lets a request exceed a REQUIRE_ADMIN spending limit.
    RequestAdminApprove {
        /// Organisation.
        org_id: OrgId,
        /// Request.
        request_id: RequestId,
        /// The digest the admin saw.
        intent_digest: String,
    },
}

impl Action {
    /// Short name of the action, as used in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::NodeReplace { .. } => "node_replace",
            Action::NodeRemove { .. } => "node_remove",
            Action::NodeAdd { .. } => "node_add",
            Action::OrgCreate { .. } => "org_create",
            Action::OrgSettingsSet { .. } => "org_settings_set",
            Action::ProposalApprove { .. } => "proposal_approve",
            Action::ProposalVeto { .. } => "proposal_veto",
            Action::ProposalExecute { .. } => "proposal_execute",
            Action::MemberAdd { .. } => "member_add",
            Action::MemberRemove { .. } => "member_remove",
            Action::VaultCreate { .. } => "vault_create",
            Action::VaultRefresh { .. } => "vault_refresh",
            Action::WalletCreate { .. } => "wallet_create",
            Action::AddressBookAdd { .. } => "addressbook_add",
            Action::AddressBookRemove { .. } => "addressbook_remove",
            Action::AssetAdd { .. } => "asset_add",
            Action::AssetRemove { .. } => "asset_remove",
            Action::WebauthnSet { .. } => "webauthn_set",
            Action::PasskeyInvite { .. } => "passkey_invite",
            Action::PasskeyRegister { .. } => "passkey_register",
            Action::PasskeyRevoke { .. } => "passkey_revoke",
            Action::PolicySet { .. } => "policy_set",
            Action::RequestSubmit { .. } => "request_submit",
            Action::RequestApprove { .. } => "request_approve",
            Action::RequestReject { .. } => "request_reject",
            Action::RequestCancel { .. } => "request_cancel",
            Action::RequestAdminApprove { .. } => "request_admin_approve",
        }
    }

    /// The organisation the action concerns (none for a network change).
    pub fn org_id(&self) -> Option<&OrgId> {
        let org = match self {
            Action::NodeReplace { .. } | Action::NodeRemove { .. } | Action::NodeAdd { .. } => {
                return None
            }
            Action::OrgCreate { org_id, .. }
            | Action::OrgSettingsSet { org_id, .. }
            | Action::ProposalApprove { org_id, .. }
            | Action::ProposalVeto { org_id, .. }
            | Action::ProposalExecute { org_id, .. }
            | Action::MemberAdd { org_id, .. }
            | Action::MemberRemove { org_id, .. }
            | Action::VaultCreate { org_id, .. }
            | Action::VaultRefresh { org_id, .. }
            | Action::WalletCreate { org_id, .. }
            | Action::AddressBookAdd { org_id, .. }
            | Action::AddressBookRemove { org_id, .. }
            | Action::AssetAdd { org_id, .. }
            | Action::AssetRemove { org_id, .. }
            | Action::WebauthnSet { org_id, .. }
            | Action::PasskeyInvite { org_id, .. }
            | Action::PasskeyRegister { org_id, .. }
            | Action::PasskeyRevoke { org_id, .. }
            | Action::PolicySet { org_id, .. }
            | Action::RequestSubmit { org_id, .. }
            | Action::RequestApprove { org_id, .. }
            | Action::RequestReject { org_id, .. }
            | Action::RequestCancel { org_id, .. }
            | Action::RequestAdminApprove { org_id, .. } => org_id,
        };
        Some(org)
    }

    /// Whether the leader may propose this command in one log entry with others
    /// ([`crate::entry::Proposal::Users`], decision 0035): submitting and approving requests,
    /// whose effects depend on the entry's log index only through the request id (made unique
    /// per batch item) and the signing session ids (unique per request). Governance, vaults and
    /// network changes, whose ids and generations are the entry's log index, always go alone.
    pub fn batchable(&self) -> bool {
        matches!(
            self,
            Action::RequestSubmit { .. } | Action::RequestApprove { .. }
        )
    }

    /// Whether the action changes what the organisation governs (members, vaults, wallets,
    /// address book, policies, settings): it then needs the admin quorum.
    pub fn is_governed(&self) -> bool {
        matches!(
            self,
            Action::MemberAdd { .. }
                | Action::MemberRemove { .. }
                | Action::VaultCreate { .. }
                | Action::VaultRefresh { .. }
                | Action::WalletCreate { .. }
                | Action::AddressBookAdd { .. }
                | Action::AddressBookRemove { .. }
                | Action::AssetAdd { .. }
                | Action::AssetRemove { .. }
                | Action::PolicySet { .. }
                | Action::OrgSettingsSet { .. }
                | Action::WebauthnSet { .. }
                | Action::PasskeyInvite { .. }
                | Action::PasskeyRevoke { .. }
        )
    }
}

/// A command whose signature and syntax have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCommand {
    /// Who signed it.
    pub signer: UserKey,
    /// The parsed body.
    pub body: CommandBody,
    /// `SHA-256(COMMAND_BODY_HASH || body text)`.
    pub body_hash: [u8; 32],
    /// The body text exactly as signed (kept when the command is itself evidence, e.g. an
    /// approval).
    pub body_text: String,
    /// The signature (hex).
    pub signature: String,
}

impl VerifiedCommand {
    /// The envelope this command arrived in (kept as evidence: approvals, adoptions).
    pub fn signed(&self) -> SignedCommand {
        SignedCommand {
            body: self.body_text.clone(),
            signer: self.signer,
            signature: self.signature.clone(),
        }
    }
}

/// The bytes an Ed25519 signature over `body` covers.
pub fn signing_message(body: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(domain::COMMAND_SIGNATURE.len() + body.len());
    msg.extend_from_slice(domain::COMMAND_SIGNATURE);
    msg.extend_from_slice(body.as_bytes());
    msg
}

/// Hash of a command body text, used for idempotency and audit references.
pub fn body_hash(body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain::COMMAND_BODY_HASH);
    h.update(body.as_bytes());
    h.finalize().into()
}

impl SignedCommand {
    /// Signs `body` with `key`. The body is serialised once; the envelope carries that text.
    pub fn sign(body: &CommandBody, key: &ed25519_dalek::SigningKey) -> Result<Self, String> {
        use ed25519_dalek::Signer;
        let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
        let sig = key.sign(&signing_message(&text));
        Ok(SignedCommand {
            body: text,
            signer: UserKey(key.verifying_key().to_bytes()),
            signature: hex::encode(sig.to_bytes()),
        })
    }

    /// Checks size, signature, body syntax and the cluster id. Pure: used by the node before
    /// proposing and by `apply` again.
    pub fn verify(&self, cluster_id: &str) -> Result<VerifiedCommand, String> {
        if self.body.len() > MAX_COMMAND_BODY_BYTES {
            return Err(format!(
                "command body of {} bytes exceeds {MAX_COMMAND_BODY_BYTES}",
                self.body.len()
            ));
        }
        let sig_bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("signature must be 64 bytes of hex")?;
        let key = VerifyingKey::from_bytes(&self.signer.0).map_err(|_| "invalid signer key")?;
        key.verify_strict(
            &signing_message(&self.body),
            &Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| "signature does not verify for this signer and body")?;
        let body: CommandBody =
            serde_json::from_str(&self.body).map_err(|e| format!("malformed command body: {e}"))?;
        if body.cluster != cluster_id {
            return Err("command was signed for another network (cluster id mismatch)".into());
        }
        if body.idempotency_key.is_empty() || body.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_BYTES
        {
            return Err(format!(
                "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
            ));
        }
        body.action.validate()?;
        Ok(VerifiedCommand {
            signer: self.signer,
            body_hash: body_hash(&self.body),
            body,
            body_text: self.body.clone(),
            signature: self.signature.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body(idem: &str) -> CommandBody {
        CommandBody {
            cluster: "c1".into(),
            idempotency_key: idem.into(),
            action: Action::OrgCreate {
                org_id: OrgId("acme".into()),
                name: "Acme".into(),
                admin_user_id: UserId("alice".into()),
                admin_public_key: None,
            },
        }
    }

    #[test]
    fn sign_then_verify() {
        let cmd = SignedCommand::sign(&body("k1"), &key(1)).unwrap();
        let v = cmd.verify("c1").unwrap();
        assert_eq!(v.signer.0, key(1).verifying_key().to_bytes());
        assert_eq!(v.body, body("k1"));
    }

    #[test]
    fn verification_failures_table() {
        let good = SignedCommand::sign(&body("k1"), &key(1)).unwrap();
        let mut tampered_body = good.clone();
        tampered_body.body = tampered_body.body.replace("Acme", "Evil");
        let mut wrong_signer = good.clone();
        wrong_signer.signer = UserKey(key(2).verifying_key().to_bytes());
        let mut short_sig = good.clone();
        short_sig.signature = "abcd".into();
        let mut huge = good.clone();
        huge.body = "x".repeat(MAX_COMMAND_BODY_BYTES + 1);
        let bad_id = SignedCommand::sign(
            &CommandBody {
                action: Action::OrgCreate {
                    org_id: OrgId("Bad Id".into()),
                    name: "x".into(),
                    admin_user_id: UserId("a".into()),
                    admin_public_key: None,
                },
                ..body("k")
            },
            &key(1),
        )
        .unwrap();
        let empty_idem = SignedCommand::sign(&body(""), &key(1)).unwrap();
        let cases: Vec<(&str, SignedCommand, &str, &str)> = vec![
            ("tampered body", tampered_body, "c1", "does not verify"),
            ("wrong signer", wrong_signer, "c1", "does not verify"),
            ("short signature", short_sig, "c1", "64 bytes"),
            ("oversized body", huge, "c1", "exceeds"),
            ("other cluster", good, "c2", "another network"),
            ("bad org id", bad_id, "c1", "org_id"),
            ("empty idempotency key", empty_idem, "c1", "idempotency_key"),
        ];
        for (name, cmd, cluster, want) in cases {
            let err = cmd.verify(cluster).unwrap_err();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = r#"{"cluster":"c1","idempotency_key":"k","action":{"type":"org_create","org_id":"a","name":"A","admin_user_id":"u","extra":1}}"#;
        let k = key(1);
        use ed25519_dalek::Signer;
        let cmd = SignedCommand {
            body: text.into(),
            signer: UserKey(k.verifying_key().to_bytes()),
            signature: hex::encode(k.sign(&signing_message(text)).to_bytes()),
        };
        assert!(cmd.verify("c1").unwrap_err().contains("malformed"));
    }
}
