//! Backup kits, drills and restore (issue 14, item 1; decision 0023).
//!
//! - `mpc-node recovery-key` makes an X25519 recovery key pair **offline** (on the recovery
//!   holder's machine): the public key goes to the node's operator, the secret stays sealed
//!   under the holder's passphrase and never touches a node.
//! - `mpc-node backup` (node stopped) writes a kit: this node's key shares and aux info, its
//!   identity (so a restored node is the same node to its peers), the genesis and the sessions it
//!   has joined, encrypted to the recovery public key ([`kit`]). Single-use secrets (FROST
//!   nonces, ECDSA presignatures) are never put in a kit: restoring them could reuse them.
//! - `mpc-node drill` (offline, with the recovery secret) opens a kit, checks every key share
//!   against its public commitments without reconstructing any key ([`check`]), checks the
//!   identity and genesis, and reports which vaults it covers and how old it is.
//! - `mpc-node restore` writes a fresh data directory from a kit under a new passphrase; the node
//!   then starts as itself and replays the log from its peers.
//!
//! One kit holds one node's shares: fewer than `t` of them, so its recovery holder alone cannot
//! reconstruct a vault key — provided each node's kit goes to a different holder. The
//! organisation chooses that split (docs/operations.md); a holder of `t` nodes' kits holds the
//! keys.

pub mod check;
pub mod cli;
pub mod kit;

use crate::share_store::{RecordKind, ShareStore};
use anyhow::Context;
use kit::{KitBody, KitHeader, KitRecord, RecoverySecret};
use mpc_bootstrap::genesis::{pin_genesis, Genesis};
use mpc_bootstrap::identity::NodeIdentity;
use mpc_bootstrap::sealed::{self, KdfParams};
use serde::Serialize;
use std::path::Path;

/// File a restore leaves in the data directory: the node then abstains from votes until it has
/// caught up (see `ClusterHandle::catch_up_after_restore`), and removes it.
pub const RESTORED_MARKER: &str = "restored-from-kit.json";

/// Where the restore marker of `data_dir` is.
pub fn restored_marker(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(RESTORED_MARKER)
}

/// Domain of the sealed recovery-key file.
const RECOVERY_KEY_FILE_AD: &[u8] = b"mpc-node/v1/recovery-key-file\n";
/// The records a kit carries.
const KIT_KINDS: [RecordKind; 2] = [RecordKind::KeyShare, RecordKind::AuxInfo];

/// Makes a recovery key pair; writes the secret sealed under `passphrase` to `out` (never
/// overwriting); returns the public key (hex).
pub fn new_recovery_key(out: &Path, passphrase: &[u8], kdf: KdfParams) -> anyhow::Result<String> {
    let secret = RecoverySecret::generate();
    let public = secret.public_hex().map_err(anyhow::Error::msg)?;
    let file = sealed::seal(
        RECOVERY_KEY_FILE_AD,
        passphrase,
        kdf,
        serde_json::json!({ "recovery_public_key": public }),
        secret.bytes(),
    )?;
    sealed::write_atomic(out, &serde_json::to_vec_pretty(&file)?, false)?;
    Ok(public)
}

/// Opens a recovery-key file.
pub fn load_recovery_key(path: &Path, passphrase: &[u8]) -> anyhow::Result<RecoverySecret> {
    let file = sealed::read_file(path)?;
    let plain = sealed::open(RECOVERY_KEY_FILE_AD, passphrase, &file, path)?;
    RecoverySecret::from_bytes(&plain).map_err(anyhow::Error::msg)
}

/// Writes this node's kit, encrypted to `recovery_key` (hex). The node must be stopped (its
/// stores are locked while it runs).
pub fn backup(
    data_dir: &Path,
    genesis_path: &Path,
    recovery_key: &str,
    passphrase: &[u8],
    now_ms: u64,
) -> anyhow::Result<(Vec<u8>, KitHeader)> {
    let identity = NodeIdentity::load(data_dir, passphrase).context("opening the identity")?;
    let genesis_json = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("reading {}", genesis_path.display()))?;
    let cluster_id = Genesis::load(genesis_path)?.hash();
    pin_genesis(data_dir, &cluster_id).context("the genesis is not this node's")?;
    let shares_dir = data_dir.join("shares");
    if !shares_dir.exists() {
        anyhow::bail!(
            "{} has no share store: nothing to back up",
            data_dir.display()
        );
    }
    let shares = ShareStore::open(
        &shares_dir,
        identity.card.node_id,
        passphrase,
        KdfParams::default(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "opening the share store: {e} (if the node is running, stop it first: its store is \
             locked while it runs)"
        )
    })?;
    let records: Vec<KitRecord> = shares
        .export(&KIT_KINDS)?
        .into_iter()
        .map(|(key_id, kind, bytes)| KitRecord {
            key_id,
            kind: kind.tag().to_string(),
            bytes: bytes.to_vec(),
        })
        .collect();
    let header = KitHeader {
        format: kit::FORMAT.into(),
        cluster_id,
        node_id: identity.card.node_id,
        created_at_ms: now_ms,
        recovery_key: recovery_key.to_lowercase(),
        suite: kit::SUITE.into(),
        records: records
            .iter()
            .map(|r| format!("{}/{}", r.kind, r.key_id))
            .collect(),
    };
    let body = KitBody {
        card: identity.card.clone(),
        identity_secret: identity.export_secret()?.to_vec(),
        genesis_json,
        records,
        joined_sessions: shares.joined_sessions()?,
    };
    let bytes = kit::seal(&header, &body).map_err(anyhow::Error::msg)?;
    Ok((bytes, header))
}

/// What a drill found.
#[derive(Debug, Serialize)]
pub struct DrillReport {
    /// Every check passed.
    pub ok: bool,
    /// The node the kit restores.
    pub node_id: u64,
    /// Its network.
    pub cluster_id: String,
    /// When the kit was made.
    pub created_at_ms: u64,
    /// Its age in hours (at the drill).
    pub age_hours: f64,
    /// The node identity's keys match its card.
    pub identity: String,
    /// The genesis inside hashes to the kit's network.
    pub genesis: String,
    /// One line per key share.
    pub key_shares: Vec<check::ShareCheck>,
    /// Aux-info records carried (ECDSA Paillier keys; regenerated by the network if lost).
    pub aux_info_records: usize,
    /// The vaults the kit covers.
    pub vaults: Vec<String>,
}

/// Opens a kit offline and checks it (see the module documentation).
pub fn drill(
    kit_bytes: &[u8],
    secret: &RecoverySecret,
    now_ms: u64,
) -> Result<DrillReport, kit::KitError> {
    let (header, body) = kit::open(kit_bytes, secret)?;
    let identity = match NodeIdentity::from_exported(body.card.clone(), &body.identity_secret) {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let genesis = match serde_json::from_str::<Genesis>(&body.genesis_json) {
        Ok(g) if g.hash() == header.cluster_id => "ok".to_string(),
        Ok(_) => "the genesis inside is another network's".to_string(),
        Err(e) => format!("malformed genesis: {e}"),
    };
    let key_shares: Vec<check::ShareCheck> = body
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::KeyShare.tag())
        .map(|r| check::check_key_share(&r.key_id, &r.bytes))
        .collect();
    let mut vaults: Vec<String> = key_shares.iter().map(|c| c.vault_id.clone()).collect();
    vaults.dedup();
    let ok = identity == "ok" && genesis == "ok" && key_shares.iter().all(|c| c.result == "ok");
    Ok(DrillReport {
        ok,
        node_id: header.node_id,
        cluster_id: header.cluster_id.clone(),
        created_at_ms: header.created_at_ms,
        age_hours: (now_ms.saturating_sub(header.created_at_ms) as f64 / 3_600_000.0 * 10.0)
            .round()
            / 10.0,
        identity,
        genesis,
        aux_info_records: body
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::AuxInfo.tag())
            .count(),
        key_shares,
        vaults,
    })
}

/// What a restore wrote.
#[derive(Debug, Serialize)]
pub struct RestoreReport {
    /// The node restored.
    pub node_id: u64,
    /// Its network.
    pub cluster_id: String,
    /// Records written to the new share store.
    pub records: usize,
    /// Where the genesis was written (start the node with it).
    pub genesis: String,
}

/// Writes a new data directory from a kit (after a drill's checks pass), sealed under
/// `passphrase`. `data_dir` must not exist or be empty.
pub fn restore(
    kit_bytes: &[u8],
    secret: &RecoverySecret,
    data_dir: &Path,
    passphrase: &[u8],
    kdf: KdfParams,
    now_ms: u64,
) -> anyhow::Result<RestoreReport> {
    let report = drill(kit_bytes, secret, now_ms)?;
    if !report.ok {
        anyhow::bail!(
            "the kit does not pass its drill; nothing was written: {}",
            serde_json::to_string(&report)?
        );
    }
    let (header, body) = kit::open(kit_bytes, secret)?;
    if data_dir.exists() && std::fs::read_dir(data_dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: restore writes a fresh data directory",
            data_dir.display()
        );
    }
    create_private_dir(data_dir)?;
    let genesis_path = data_dir.join("genesis.json");
    sealed::write_atomic(&genesis_path, body.genesis_json.as_bytes(), false)?;
    pin_genesis(data_dir, &header.cluster_id)?;
    NodeIdentity::restore(
        data_dir,
        body.card.clone(),
        &body.identity_secret,
        passphrase,
        kdf,
    )?;
    let shares = ShareStore::open(&data_dir.join("shares"), header.node_id, passphrase, kdf)?;
    for r in &body.records {
        let kind = KIT_KINDS
            .iter()
            .copied()
            .find(|k| k.tag() == r.kind)
            .ok_or_else(|| anyhow::anyhow!("unknown record kind '{}'", r.kind))?;
        shares.put(&r.key_id, kind, &r.bytes)?;
    }
    for s in &body.joined_sessions {
        shares.join_session_once(s)?;
    }
    let marker = serde_json::json!({
        "restored_at_ms": now_ms,
        "kit_created_at_ms": header.created_at_ms,
    });
    sealed::write_atomic(
        &restored_marker(data_dir),
        marker.to_string().as_bytes(),
        false,
    )?;
    Ok(RestoreReport {
        node_id: header.node_id,
        cluster_id: header.cluster_id,
        records: body.records.len(),
        genesis: genesis_path.display().to_string(),
    })
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

#[cfg(test)]
mod tests;
