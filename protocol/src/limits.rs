//! Size limits shared by the node, the consensus adapters and the CLI. Units are in the names.

/// Largest peer-to-peer request or response (Raft RPCs, forwarded client writes), in bytes.
pub const MAX_P2P_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Largest snapshot carried in one install-snapshot chunk, in bytes.
pub const MAX_SNAPSHOT_CHUNK_BYTES: u64 = 1024 * 1024;

/// Largest gossip message (node-status heartbeat), in bytes.
pub const MAX_GOSSIP_MESSAGE_BYTES: usize = 4 * 1024;

/// Largest JSON-RPC request body accepted by a node, in bytes.
pub const MAX_RPC_REQUEST_BYTES: u32 = 256 * 1024;

/// Largest JSON-RPC response body produced by a node, in bytes.
pub const MAX_RPC_RESPONSE_BYTES: u32 = 8 * 1024 * 1024;

/// Largest signed command body (the JSON text that a user signs), in bytes.
pub const MAX_COMMAND_BODY_BYTES: usize = 64 * 1024;

/// Largest persisted record (log entry, state record) the stores will decode, in bytes.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Largest threshold-session message (one envelope), in bytes.
pub const MAX_SESSION_MESSAGE_BYTES: usize = 1024 * 1024;
