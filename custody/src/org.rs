//! Organisations and their members.

use crate::governance::{Adoption, OrgSettings};
use crate::passkey::{PasskeyCredential, PasskeyInvitation, WebauthnConfig};
use crate::types::{OrgId, Role, UserId, UserKey};
use serde::{Deserialize, Serialize};

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Id.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time from the log (ms).
    pub created_at_ms: u64,
    /// Key of the genesis admin who created it.
    pub created_by: UserKey,
    /// Governance settings (admin quorum, time-lock).
    #[serde(default)]
    pub settings: OrgSettings,
    /// The adoption of the settings in force (none while they are the defaults).
    #[serde(default)]
    pub settings_adoption: Option<Box<Adoption>>,
    /// The WebAuthn relying party passkeys are checked against (none: no passkeys yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<WebauthnConfig>,
    /// The adoption of [`Org::webauthn`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn_adoption: Option<Box<Adoption>>,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Organisation.
    pub org_id: OrgId,
    /// User id within the organisation.
    pub user_id: UserId,
    /// The user's Ed25519 key; commands signed by it act as this member.
    pub public_key: UserKey,
    /// Roles, sorted.
    pub roles: Vec<Role>,
    /// When added (ms, from the log).
    pub added_at_ms: u64,
    /// The signed evidence that the organisation adopted this member.
    #[serde(default)]
    pub adoption: Option<Box<Adoption>>,
    /// Registered passkeys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<PasskeyCredential>,
    /// Open passkey invitations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invitations: Vec<PasskeyInvitation>,
}
