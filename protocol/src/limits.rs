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

/// Largest Raft log entry (a signed command or node report with the leader's timestamp, CBOR),
/// in bytes. Proposals above it are refused before they reach the log, so that a batch of
/// [`MAX_APPEND_ENTRIES`] entries always fits one peer-to-peer message.
pub const MAX_LOG_ENTRY_BYTES: usize = 128 * 1024;

/// Most entries in one AppendEntries request: the largest batch of the largest entries plus
/// room for the request's own fields stays under [`MAX_P2P_MESSAGE_BYTES`].
pub const MAX_APPEND_ENTRIES: usize =
    (MAX_P2P_MESSAGE_BYTES - APPEND_ENTRIES_OVERHEAD_BYTES) / (MAX_LOG_ENTRY_BYTES + 64);

/// Room kept in an AppendEntries message for its non-entry fields and CBOR framing, in bytes.
const APPEND_ENTRIES_OVERHEAD_BYTES: usize = 64 * 1024;

const _: () = assert!(MAX_APPEND_ENTRIES >= 16);
