//! Domain-separation tags, in one place. Every hash or signature that mpc-node computes starts
//! with one of these, so that a value signed or hashed for one purpose can never be taken for
//! another.

/// Prefix of the message a user signs for a custody command (followed by the body's JSON text).
pub const COMMAND_SIGNATURE: &[u8] = b"mpc-node/v1/command-signature\n";
/// Prefix of each audit-log entry hash.
pub const AUDIT_ENTRY_HASH: &[u8] = b"mpc-node/v1/audit-entry\n";
/// Prefix of the genesis-document hash.
pub const GENESIS_HASH: &[u8] = b"mpc-node/v1/genesis\n";
/// Prefix of the hash of a command body (idempotency and audit references).
pub const COMMAND_BODY_HASH: &[u8] = b"mpc-node/v1/command-body\n";
/// Associated-data prefix of an encrypted node-identity file.
pub const IDENTITY_FILE_AD: &[u8] = b"mpc-node/v1/identity-file\n";
/// Associated-data prefix of an encrypted user-key file.
pub const USER_KEY_FILE_AD: &[u8] = b"mpc-node/v1/user-key-file\n";

/// Gossipsub topic carrying signed node-status heartbeats.
pub const TOPIC_NODE_STATUS: &str = "mpc-node/v1/node-status";
/// Request-response protocol name carrying Raft RPCs and forwarded client requests.
pub const PROTOCOL_RAFT: &str = "/mpc-node/raft/1";
/// libp2p identify protocol version string.
pub const IDENTIFY_PROTOCOL: &str = "/mpc-node/id/1";
/// Prefix of the echo-broadcast hash of a FROST DKG's round-1 view.
pub const FROST_DKG_ECHO: &[u8] = b"mpc-node/v1/frost-dkg-echo\n";
/// Noise protocol pattern and prologue of peer channels.
pub const NOISE_PATTERN: &str = "Noise_KK_25519_ChaChaPoly_BLAKE2s";
/// Noise prologue binding a channel to mpc-node peer channels, version 1.
pub const NOISE_PROLOGUE: &[u8] = b"mpc-node/v1/peer-channel";
/// Prefix of the hash that derives a FROST wallet's additive key tweak.
pub const WALLET_TWEAK: &[u8] = b"mpc-node/v1/wallet-tweak\n";
/// Prefix of a signing request's intent digest (what approvers sign).
pub const INTENT_DIGEST: &[u8] = b"mpc-node/v1/intent-digest\n";
/// Prefix of the signature a node puts on its reports (DKG results, signatures, failures).
pub const NODE_REPORT: &[u8] = b"mpc-node/v1/node-report\n";
/// Prefix of the hash of a governed change (what org admins approve).
pub const GOVERNANCE_CHANGE: &[u8] = b"mpc-node/v1/governance-change\n";
/// Prefix of session-id derivations.
pub const SESSION_ID: &[u8] = b"mpc-node/v1/session-id\n";
/// Prefix of the signature a member puts on an authenticated read (JSON-RPC `auth` field).
pub const READ_AUTH: &[u8] = b"mpc-node/v1/read-auth\n";
/// WebAuthn challenge of a passkey approval or rejection of a signing request.
pub const PASSKEY_DECISION: &[u8] = b"mpc-node/v1/passkey-decision\n";
/// WebAuthn challenge of a passkey registration through an invitation.
pub const PASSKEY_REGISTRATION: &[u8] = b"mpc-node/v1/passkey-registration\n";
/// WebAuthn challenge of a console sign-in (a node's nonce).
pub const PASSKEY_SIGN_IN: &[u8] = b"mpc-node/v1/passkey-sign-in\n";
/// Digest of a refresh's new public key material (reported by each node).
pub const KEY_REFRESH: &[u8] = b"mpc-node/v1/key-refresh\n";
/// Hash of the delta commitments every repair helper saw (echoed to the participant).
pub const FROST_REPAIR_VIEW: &[u8] = b"mpc-node/v1/frost-repair-view\n";
