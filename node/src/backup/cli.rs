//! `mpc-node recovery-key | backup | drill | restore` (see the module above).

use super::kit;
use anyhow::Context;
use mpc_bootstrap::passphrase::{self, NODE_PASSPHRASE_ENV};
use mpc_bootstrap::sealed::KdfParams;
use std::path::PathBuf;

/// Environment variable holding the recovery key file's passphrase.
pub const RECOVERY_PASSPHRASE_ENV: &str = "MPC_RECOVERY_PASSPHRASE";

/// `mpc-node recovery-key`.
#[derive(Debug, clap::Args)]
pub struct RecoveryKeyArgs {
    /// Where to write the sealed recovery secret (never overwritten). Keep it offline.
    #[arg(long)]
    pub out: PathBuf,
    /// Read the passphrase from this file instead of MPC_RECOVERY_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

/// `mpc-node backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The (stopped) node's data directory.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The network's genesis.json.
    #[arg(long)]
    pub genesis: PathBuf,
    /// The recovery public key (hex) this node's kits are encrypted to: a different holder for
    /// each node, unless the organisation chose otherwise (docs/operations.md).
    #[arg(long)]
    pub recovery_key: String,
    /// Where to write the kit (never overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// The node passphrase from this file instead of MPC_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

/// `mpc-node drill`.
#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// The kit.
    #[arg(long)]
    pub kit: PathBuf,
    /// The sealed recovery secret.
    #[arg(long)]
    pub recovery_key_file: PathBuf,
    /// Its passphrase from this file instead of MPC_RECOVERY_PASSPHRASE or a prompt.
    #[arg(long)]
    pub recovery_passphrase_file: Option<PathBuf>,
}

/// `mpc-node restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The kit.
    #[arg(long)]
    pub kit: PathBuf,
    /// The sealed recovery secret.
    #[arg(long)]
    pub recovery_key_file: PathBuf,
    /// Its passphrase from this file instead of MPC_RECOVERY_PASSPHRASE or a prompt.
    #[arg(long)]
    pub recovery_passphrase_file: Option<PathBuf>,
    /// The new data directory (must not exist, or be empty).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The new node passphrase from this file instead of MPC_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Argon2id parameters of the new sealed files.
    #[command(flatten)]
    pub kdf: crate::cli::KdfArgs,
}

fn recovery_secret(
    path: &std::path::Path,
    pass_file: Option<&std::path::Path>,
) -> anyhow::Result<kit::RecoverySecret> {
    let pass = passphrase::obtain(
        pass_file,
        RECOVERY_PASSPHRASE_ENV,
        "Recovery key passphrase: ",
        false,
    )?;
    super::load_recovery_key(path, pass.as_bytes())
}

fn read_kit(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > kit::MAX_KIT_BYTES as u64 {
        anyhow::bail!("{} is larger than any kit ({len} bytes)", path.display());
    }
    Ok(std::fs::read(path)?)
}

/// `mpc-node recovery-key`: prints the public key.
pub fn recovery_key(a: RecoveryKeyArgs) -> anyhow::Result<()> {
    let pass = passphrase::obtain(
        a.passphrase_file.as_deref(),
        RECOVERY_PASSPHRASE_ENV,
        "New recovery key passphrase: ",
        true,
    )?;
    let public = super::new_recovery_key(&a.out, pass.as_bytes(), KdfParams::default())?;
    println!(
        "{}",
        serde_json::json!({ "recovery_public_key": public, "file": a.out })
    );
    eprintln!(
        "keep {} offline; give the public key to one node's operator",
        a.out.display()
    );
    Ok(())
}

/// `mpc-node backup`: writes the kit, prints its header.
pub fn backup(a: BackupArgs) -> anyhow::Result<()> {
    let pass = passphrase::obtain(
        a.passphrase_file.as_deref(),
        NODE_PASSPHRASE_ENV,
        "Node passphrase: ",
        false,
    )?;
    let (bytes, header) = super::backup(
        &a.data_dir,
        &a.genesis,
        &a.recovery_key,
        pass.as_bytes(),
        crate::clock::now_ms(),
    )?;
    mpc_bootstrap::sealed::write_atomic(&a.out, &bytes, false)?;
    println!("{}", serde_json::to_string_pretty(&header)?);
    eprintln!(
        "kit written to {} ({} bytes): drill it with the recovery key",
        a.out.display(),
        bytes.len()
    );
    Ok(())
}

/// `mpc-node drill`: prints the report; fails unless every check passed.
pub fn drill(a: DrillArgs) -> anyhow::Result<()> {
    let bytes = read_kit(&a.kit)?;
    let secret = recovery_secret(&a.recovery_key_file, a.recovery_passphrase_file.as_deref())?;
    let report = super::drill(&bytes, &secret, crate::clock::now_ms())?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.ok {
        anyhow::bail!("the drill failed: this kit would not restore the node (see above)");
    }
    Ok(())
}

/// `mpc-node restore`.
pub fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    let kdf = a.kdf.params()?;
    let bytes = read_kit(&a.kit)?;
    let secret = recovery_secret(&a.recovery_key_file, a.recovery_passphrase_file.as_deref())?;
    let pass = passphrase::obtain(
        a.passphrase_file.as_deref(),
        NODE_PASSPHRASE_ENV,
        "New node passphrase: ",
        true,
    )?;
    let report = super::restore(
        &bytes,
        &secret,
        &a.data_dir,
        pass.as_bytes(),
        kdf,
        crate::clock::now_ms(),
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "start it with: mpc-node start --data-dir {} --genesis {}",
        a.data_dir.display(),
        report.genesis
    );
    Ok(())
}
