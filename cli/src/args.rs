//! The command line of `mpc`: every subcommand and its arguments (clap).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command-line client for mpc-node.
#[derive(Debug, Parser)]
#[command(name = "mpc", version, about)]
pub(crate) struct Args {
    /// JSON-RPC URL of any node (https://host:port).
    #[arg(
        long,
        env = "MPC_RPC",
        default_value = "https://127.0.0.1:8001",
        global = true
    )]
    pub(crate) rpc: String,
    /// The network's genesis file: pins the node's TLS certificate (its card's rpc_tls_sha256)
    /// and names the network id commands and reads are signed for.
    #[arg(long, env = "MPC_GENESIS", global = true)]
    pub(crate) genesis: Option<PathBuf>,
    /// The node's TLS certificate SHA-256 (hex), instead of --genesis.
    #[arg(long, env = "MPC_TLS_SHA256", global = true)]
    pub(crate) tls_sha256: Option<String>,
    /// Print raw JSON (for scripts).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Network id (genesis hash) to sign for; fetched from the node when absent.
    #[arg(long, env = "MPC_CLUSTER_ID", global = true)]
    pub(crate) cluster_id: Option<String>,
    /// Your key file: it signs writes and authenticates reads (every command but status,
    /// cluster, key create and tx needs it).
    #[arg(long, env = "MPC_KEY", global = true)]
    pub(crate) key: Option<PathBuf>,
    /// File holding the user-key passphrase (else MPC_KEY_PASSPHRASE, else a prompt).
    #[arg(long, global = true)]
    pub(crate) passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Print a shell completion script, e.g. `mpc completions bash > /etc/bash_completion.d/mpc`
    /// (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// User keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// This node's status.
    Status,
    /// Every member node and its last heartbeat.
    Cluster,
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Members.
    #[command(subcommand)]
    Member(MemberCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Vaults (keys made by DKG on every node).
    #[command(subcommand)]
    Vault(VaultCmd),
    /// Wallets derived from vault keys.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// The organisation's address book (whitelist).
    #[command(subcommand)]
    Addressbook(BookCmd),
    /// The organisation's asset registry (tokens it custodies).
    #[command(subcommand)]
    Asset(AssetCmd),
    /// Vault policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Signing requests: submit, inspect, approve, reject.
    #[command(subcommand)]
    Request(RequestCmd),
    /// Build unsigned transactions (for testing and demos).
    #[command(subcommand)]
    Tx(TxCmd),
    /// Network membership (genesis admins): replace a lost node by a new host.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Governance proposals: list, show, approve, veto, execute.
    #[command(subcommand)]
    Proposal(ProposalCmd),
}

/// Arguments of an admin's proposal command.
#[derive(Debug, clap::Args)]
pub(crate) struct ProposalRef {
    /// An org admin's key, the organisation, the idempotency key.
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// Proposal id (prop-<n>).
    #[arg(long)]
    pub(crate) id: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProposalCmd {
    /// List an organisation's proposals (open ones unless --status).
    List {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// open (default), all, pending, queued, executed, vetoed, failed, expired.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one proposal, its change checked against the proposer's signature.
    Show {
        /// Proposal id.
        #[arg(long)]
        id: String,
    },
    /// Approve a proposal: the change is re-read from the proposer's signed command and its
    /// hash recomputed here before signing.
    Approve {
        #[command(flatten)]
        p: ProposalRef,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Veto a pending or time-locked proposal.
    Veto {
        #[command(flatten)]
        p: ProposalRef,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Execute a proposal whose time-lock has passed.
    Execute {
        #[command(flatten)]
        p: ProposalRef,
    },
}

/// Arguments every signed write takes (the key is the global `--key`).
#[derive(Debug, clap::Args)]
pub(crate) struct Signer {
    /// Organisation id.
    #[arg(long)]
    pub(crate) org: String,
    /// Idempotency key (random when absent).
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCmd {
    /// Sign the replacement of node NODE_ID (host and shares lost) by the new host whose
    /// identity card is CARD. Takes effect when a majority of the genesis admins (at least two)
    /// signed the same replacement; every vault then repairs the node's shares and refreshes.
    Replace {
        /// The node whose place the new host takes.
        #[arg(long)]
        node_id: u64,
        /// The node's replacement number: 1 for its first replacement, then 2, …
        #[arg(long)]
        replacement: u32,
        /// The new host's identity card (`card.json` from `mpc-node init`).
        #[arg(long)]
        card: std::path::PathBuf,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Sign the addition of a new node NODE_ID (above every node id used so far) whose
    /// identity card is CARD. Takes effect when a majority of the genesis admins (at least two)
    /// signed it; every vault then gives the node a share and refreshes.
    Add {
        /// The new node's id.
        #[arg(long)]
        node_id: u64,
        /// Its identity card (`card.json` from `mpc-node init`).
        #[arg(long)]
        card: std::path::PathBuf,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Sign the removal of node NODE_ID from the network, for good. Takes effect when a
    /// majority of the genesis admins (at least two) signed it; every vault then refreshes
    /// among the staying nodes, so the removed node's shares no longer fit.
    Remove {
        /// The node removed.
        #[arg(long)]
        node_id: u64,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum VaultCmd {
    /// Create a vault (org admins); every node then runs DKG.
    Create {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Wait until the vault is active or failed.
        #[arg(long)]
        wait: bool,
    },
    /// Refresh a vault's key shares now (org admins; governed): same keys and addresses, new
    /// shares on every node; old shares and presignatures become useless.
    Refresh {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// Why (recorded in the vault and the audit log), e.g. "operator left".
        #[arg(long)]
        reason: String,
        /// Wait until the refresh is done or failed.
        #[arg(long)]
        wait: bool,
    },
    /// Show a vault.
    Get {
        /// Vault id.
        #[arg(long)]
        vault: String,
    },
    /// List vaults.
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WalletCmd {
    /// Derive a wallet (org admins).
    Create {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// ethereum, bitcoin_p2wpkh, bitcoin_p2tr or solana.
        #[arg(long)]
        chain: String,
        /// mainnet or testnet.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Derivation index.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Ethereum: the chain id the wallet signs for (default 1 on mainnet, 11155111 Sepolia
        /// on testnet).
        #[arg(long)]
        chain_id: Option<u64>,
    },
    /// Show a wallet.
    Get {
        /// Wallet id.
        #[arg(long)]
        wallet: String,
    },
    /// List wallets.
    List {
        /// Only this vault's.
        #[arg(long)]
        vault: Option<String>,
    },
    /// The wallet's balance, read by the node through its chain provider.
    Balance {
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// A token of the asset registry (default: the chain's native asset).
        #[arg(long)]
        asset: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AssetCmd {
    /// Register a token (org admins; a governed change).
    Add {
        #[command(flatten)]
        signer: Signer,
        /// Symbol (unique in the organisation), e.g. USDC.
        #[arg(long)]
        symbol: String,
        /// Chain (ethereum).
        #[arg(long, default_value = "ethereum")]
        chain: String,
        /// Network.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Contract address.
        #[arg(long)]
        contract: String,
        /// Decimals of the token.
        #[arg(long)]
        decimals: u8,
    },
    /// Remove a token (org admins; a governed change).
    Remove {
        #[command(flatten)]
        signer: Signer,
        /// Symbol.
        #[arg(long)]
        symbol: String,
    },
    /// List the registry.
    List {
        /// Organisation.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum BookCmd {
    /// Whitelist an address (org admins).
    Add {
        #[command(flatten)]
        signer: Signer,
        /// Chain.
        #[arg(long)]
        chain: String,
        /// Network.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Address.
        #[arg(long)]
        address: String,
        /// Label.
        #[arg(long)]
        label: String,
    },
    /// Remove an address (org admins).
    Remove {
        #[command(flatten)]
        signer: Signer,
        /// Chain.
        #[arg(long)]
        chain: String,
        /// Network.
        #[arg(long, default_value = "testnet")]
        network: String,
        /// Address.
        #[arg(long)]
        address: String,
    },
    /// List the address book.
    List {
        /// Organisation.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCmd {
    /// Set a vault's policy from a JSON rules file (org admins).
    Set {
        #[command(flatten)]
        signer: Signer,
        /// Vault id.
        #[arg(long)]
        vault: String,
        /// Rules file: {"approvers": [...], "threshold": M, "whitelist_required": bool,
        /// "limits": [...], "auto_approve": [...]}.
        #[arg(long)]
        rules: PathBuf,
    },
    /// Show a vault's policy.
    Get {
        /// Vault id.
        #[arg(long)]
        vault: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RequestCmd {
    /// Have the node build an unsigned transfer from its chain provider's view (nonce, fees,
    /// gas); prints the payload for `request submit` and the intent the network will parse.
    Build {
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// Destination address.
        #[arg(long)]
        to: String,
        /// Amount in the asset's units, e.g. 0.01 (ETH).
        #[arg(long)]
        amount: String,
        /// slow, normal or fast.
        #[arg(long, default_value = "normal")]
        fee_level: String,
        /// A token of the asset registry (default: the chain's native asset).
        #[arg(long)]
        asset: Option<String>,
        /// Solana: build over this durable nonce account (advanced by the wallet) instead of a
        /// recent blockhash, so that approvals may take hours.
        #[arg(long)]
        durable_nonce_account: Option<String>,
    },
    /// Submit an unsigned transaction (initiators).
    Submit {
        #[command(flatten)]
        signer: Signer,
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// Unsigned payload, hex.
        #[arg(long)]
        payload: String,
        /// Bitcoin: JSON file with the spent outputs [{"amount": "…", "script_pubkey": "…"}].
        #[arg(long)]
        spent_outputs: Option<PathBuf>,
    },
    /// Show a request (the parsed intent, approvals, status, signed transaction).
    Get {
        /// Request id.
        #[arg(long)]
        request: String,
    },
    /// Follow status changes over WebSocket (one request until it is final, or all requests),
    /// printing one JSON line per change.
    Watch {
        /// Request id (default: every request).
        #[arg(long)]
        request: Option<String>,
        /// With --request: once signed, keep watching until its transaction is confirmed,
        /// failed or dropped on its chain (needs nodes with a provider for the chain).
        #[arg(long)]
        until_final: bool,
    },
    /// List requests.
    List {
        /// Organisation.
        #[arg(long)]
        org: Option<String>,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve: shows the parsed intent, then signs its digest.
    Approve {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Reject a request.
    Reject {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Reason.
        #[arg(long)]
        reason: String,
    },
    /// Cancel a request that is not yet signing (its initiator or an org admin).
    Cancel {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Reason.
        #[arg(long)]
        reason: String,
    },
    /// Let a request exceed a REQUIRE_ADMIN spending limit (org admins).
    AdminApprove {
        #[command(flatten)]
        signer: Signer,
        /// Request id.
        #[arg(long)]
        request: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Wait until a request is signed, rejected or failed.
    Wait {
        /// Request id.
        #[arg(long)]
        request: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TxCmd {
    /// An EIP-1559 ETH transfer (unsigned, hex).
    Eth {
        /// Chain id (1 mainnet, 11155111 Sepolia).
        #[arg(long, default_value_t = 11_155_111)]
        chain_id: u64,
        /// Nonce.
        #[arg(long, default_value_t = 0)]
        nonce: u64,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Value, wei.
        #[arg(long)]
        value_wei: u128,
        /// Max fee per gas, wei.
        #[arg(long, default_value_t = 30_000_000_000)]
        max_fee_per_gas: u128,
        /// Max priority fee per gas, wei.
        #[arg(long, default_value_t = 1_000_000_000)]
        max_priority_fee_per_gas: u128,
    },
    /// A Bitcoin spend of one UTXO with change (unsigned hex and the spent output).
    Btc {
        /// The wallet address (owner of the UTXO, receives change).
        #[arg(long)]
        from: String,
        /// The UTXO, txid:vout.
        #[arg(long)]
        utxo: String,
        /// Its value, sat.
        #[arg(long)]
        input_sats: u64,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Amount, sat.
        #[arg(long)]
        amount_sats: u64,
        /// Fee, sat.
        #[arg(long, default_value_t = 500)]
        fee_sats: u64,
    },
    /// A Solana System transfer message (unsigned hex).
    Sol {
        /// The wallet address (fee payer).
        #[arg(long)]
        from: String,
        /// Destination.
        #[arg(long)]
        to: String,
        /// Lamports.
        #[arg(long)]
        lamports: u64,
        /// Recent blockhash (base58).
        #[arg(long)]
        blockhash: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCmd {
    /// Create a sealed Ed25519 user key file.
    Create {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Label.
        #[arg(long)]
        name: String,
    },
    /// Show the public key of the key file given with --key.
    Show,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrgCmd {
    /// Create an organisation (genesis admins only).
    Create {
        /// Organisation id (a-z, 0-9, '-', '_').
        #[arg(long)]
        org: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// User id of the first admin.
        #[arg(long, default_value = "admin")]
        admin_user_id: String,
        /// The first admin's public key (hex); default: yours. A genesis admin who names
        /// another key keeps no power over the organisation.
        #[arg(long)]
        admin_public_key: Option<String>,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Set the organisation's WebAuthn relying party for passkeys (governed): the RP id and
    /// every origin the console is opened from.
    Webauthn {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// RP id: the console's host name (`localhost`, `custody.example.com`).
        #[arg(long)]
        rp_id: String,
        /// An allowed origin (repeatable), e.g. `http://localhost:8080`.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Propose new governance settings (admin quorum, time-lock).
    Settings {
        #[command(flatten)]
        signer: Signer,
        /// Admin approvals a change needs (0: the default, 2 with two admins or more).
        #[arg(long, default_value_t = 0)]
        admin_quorum: u16,
        /// Seconds a change waits after its quorum, during which any admin may veto it.
        #[arg(long, default_value_t = 0)]
        timelock_secs: u64,
        /// Hours between proactive refreshes of every vault's key shares (0: on demand only).
        #[arg(long, default_value_t = 0)]
        refresh_interval_hours: u32,
    },
    /// Show one organisation.
    Get {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Read through the leader (linearizable).
        #[arg(long)]
        linearizable: bool,
    },
    /// List organisations.
    List {
        /// Read through the leader (linearizable).
        #[arg(long)]
        linearizable: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MemberCmd {
    /// Add a member (org admins).
    Add {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// New member's user id.
        #[arg(long)]
        user: String,
        /// New member's public key (hex)...
        #[arg(long, conflicts_with = "user_key_file")]
        public_key: Option<String>,
        /// ...or their key file (only its public part is read).
        #[arg(long)]
        user_key_file: Option<PathBuf>,
        /// Role (repeatable): admin, operator, initiator, approver, auditor.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Remove a member (org admins).
    Remove {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Member's user id.
        #[arg(long)]
        user: String,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List an organisation's members (with their passkeys and open invitations).
    List {
        /// Organisation id.
        #[arg(long)]
        org: String,
    },
    /// Invite a member to register a passkey (org admins; governed). Prints the invitation
    /// link: it holds a one-time secret, so hand it to the member yourself, out of band.
    Invite {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// The member's user id.
        #[arg(long)]
        user: String,
        /// How long the invitation stays open, in seconds (at most 7 days).
        #[arg(long, default_value_t = 86_400)]
        ttl_secs: u64,
        /// The console address the member will open (the link is built on it).
        #[arg(long, default_value = "http://localhost:8080")]
        console_url: String,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Revoke a member's passkey (org admins; governed).
    PasskeyRevoke {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// The member's user id.
        #[arg(long)]
        user: String,
        /// The passkey's credential id (base64url, as `member list` shows it).
        #[arg(long)]
        credential_id: String,
        /// Idempotency key (random when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// List audit entries.
    List {
        /// The organisation whose entries to list (admins and auditors); only a genesis admin
        /// may omit it and read the whole log.
        #[arg(long)]
        org: Option<String>,
        /// First entry.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many (1–1000).
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Recompute the hash chain.
    Verify {
        /// An organisation you are an admin or auditor of (genesis admins may omit it).
        #[arg(long)]
        org: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    /// The command line is consistent (clap's own checks) and the completion scripts name the
    /// subcommands and their flags.
    #[test]
    fn completions_cover_the_command_line() {
        Args::command().debug_assert();
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Args::command(), "mpc", &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in ["request", "approve", "--genesis", "completions", "wallet"] {
                assert!(text.contains(word), "{shell:?} completions lack {word}");
            }
        }
    }
}
