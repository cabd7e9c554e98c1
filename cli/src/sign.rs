//! Building and signing custody commands.

use ed25519_dalek::SigningKey;
use mpc_custody::command::{Action, CommandBody, SignedCommand};
use rand::RngCore;

/// A fresh random idempotency key (128 bits, hex).
pub fn random_idempotency_key() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Signs `action` for the network `cluster_id` with `key`.
pub fn sign_action(
    key: &SigningKey,
    cluster_id: &str,
    idempotency_key: &str,
    action: Action,
) -> Result<SignedCommand, String> {
    let body = CommandBody {
        cluster: cluster_id.to_string(),
        idempotency_key: idempotency_key.to_string(),
        action,
    };
    SignedCommand::sign(&body, key)
}
