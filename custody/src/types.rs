//! Identifier newtypes and roles.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier (organisation id, user id), in bytes.
pub const MAX_ID_BYTES: usize = 64;
/// Longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Checks that `s` is a valid identifier: 1–64 bytes of `[a-z0-9_-]`, starting with a letter or
/// digit.
pub fn validate_id(kind: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ID_BYTES {
        return Err(format!("{kind} must be 1 to {MAX_ID_BYTES} characters"));
    }
    let ok_first = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_rest = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok_first || !ok_rest {
        return Err(format!(
            "{kind} may contain only a-z, 0-9, '-' and '_' and must start with a letter or digit"
        ));
    }
    Ok(())
}

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident, $kind:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Validates the identifier syntax.
            pub fn validate(&self) -> Result<(), String> {
                validate_id($kind, &self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&$name> for $name {
            fn from(s: &$name) -> Self {
                s.clone()
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id_newtype!(
    /// Organisation identifier chosen by the admin who creates it.
    OrgId,
    "org_id"
);
id_newtype!(
    /// User identifier, unique within an organisation.
    UserId,
    "user_id"
);
id_newtype!(
    /// Vault identifier chosen by the admin who creates it, unique in the network.
    VaultId,
    "vault_id"
);
id_newtype!(
    /// Wallet identifier, derived from its vault, chain, network and index
    /// (`<vault>-<chain>-<network>-<index>`).
    WalletId,
    "wallet_id"
);
id_newtype!(
    /// Signing-request identifier, derived from the log index that created it (`req-<index>`).
    RequestId,
    "request_id"
);
id_newtype!(
    /// Governance-proposal identifier, derived from the log index that created it
    /// (`prop-<index>`).
    ProposalId,
    "proposal_id"
);

/// An Ed25519 user public key, hex-encoded (64 hex characters) on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserKey(pub [u8; 32]);

impl UserKey {
    /// Parses a hex-encoded key and checks that it is a valid Ed25519 point.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s).map_err(|_| "public key must be hex".to_string())?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "public key must be 32 bytes (64 hex characters)".to_string())?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| "public key is not a valid Ed25519 key".to_string())?;
        Ok(UserKey(arr))
    }

    /// The hex encoding.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl TryFrom<String> for UserKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        UserKey::from_hex(&s)
    }
}

impl From<UserKey> for String {
    fn from(k: UserKey) -> String {
        k.to_hex()
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a member of an organisation may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members, vaults, wallets, address books and policies.
    Admin,
    /// Runs nodes; reads the organisation record and operational state, not the custody book.
    Operator,
    /// Submits signing requests.
    Initiator,
    /// Approves or rejects signing requests.
    Approver,
    /// Reads the custody book and the audit log.
    Auditor,
    /// Reads the custody book (vaults, wallets, requests, policies, members); changes nothing.
    Viewer,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Operator,
        Role::Initiator,
        Role::Approver,
        Role::Auditor,
        Role::Viewer,
    ];

    /// Parses a role name (`admin`, `operator`, `initiator`, `approver`, `auditor`, `viewer`).
    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role '{s}' (admin, operator, initiator, approver, auditor, viewer)"
                )
            })
    }

    /// The role's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Initiator => "initiator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_validation_table() {
        let cases = [
            ("acme", true),
            ("a", true),
            ("acme-corp_2", true),
            ("", false),
            ("-acme", false),
            ("Acme", false),
            ("acme corp", false),
            ("ácme", false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate_id("org_id", s).is_ok(), ok, "{s:?}");
        }
        assert!(validate_id("org_id", &"a".repeat(65)).is_err());
    }

    /// Typed ids serialise as the plain string, so the log, the state hash and the JSON-RPC
    /// API did not change when they replaced bare strings.
    #[test]
    fn typed_ids_serialise_as_plain_strings() {
        let v = VaultId::from("treasury");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"treasury\"");
        let w: WalletId = serde_json::from_str("\"v-ethereum-mainnet-0\"").unwrap();
        assert_eq!(w, "v-ethereum-mainnet-0");
        assert_eq!(
            serde_json::to_value(RequestId::from("req-7")).unwrap(),
            serde_json::json!("req-7")
        );
        assert!(VaultId::from("Bad Id").validate().is_err());
    }

    #[test]
    fn user_key_rejects_bad_hex_and_length() {
        assert!(UserKey::from_hex("zz").is_err());
        assert!(UserKey::from_hex(&"00".repeat(31)).is_err());
    }

    #[test]
    fn role_parse_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }
}
