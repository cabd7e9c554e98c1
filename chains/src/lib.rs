//! # mpc-chains
//!
//! Chain adapters: the I/O at the edge of an mpc-node network (issue 12). Each adapter talks to
//! one provider of one chain and network — balances, nonces, fee suggestions, broadcast,
//! receipts. They are conveniences and observers: the custody state machine never calls them,
//! and no signer's policy decision rests on their answers (a provider may lie; the node parses
//! the exact bytes it signs, and a final chain state needs `t` nodes to agree, see
//! `mpc_custody::chain_status`).
//!
//! - [`Adapter`]: what the node's broadcaster, watcher and balance reads use, one per
//!   configured provider ([`Provider`], parsed from `--chain-provider chain:network=url`).
//! - [`btc`]: Bitcoin through an Esplora REST API (Blockstream's esplora, mempool.space, electrs);
//!   no Bitcoin node can run here, so it is tested against fixtures written to the published
//!   API contract, served over HTTP by the test.
//! - [`eth`]: Ethereum JSON-RPC (tested against a local `anvil`, `testnet/tests/chains.rs`).
//! - [`sol`]: Solana JSON-RPC, durable nonces included (tested against LiteSVM behind the same
//!   API, `testnet/litesvm/rpc.cjs`).
//!
//! Every call is bounded: a per-call timeout and a response-size limit.

pub mod btc;
pub mod eth;
pub mod sol;

use mpc_protocol::chain::{Chain, Intent, Network};
use std::time::Duration;

/// What an adapter call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The provider could not be reached or did not answer in time.
    #[error("provider unreachable: {0}")]
    Transport(String),
    /// The provider answered with an error.
    #[error("provider error {code}: {message}")]
    Provider {
        /// The provider's error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The provider answered something this adapter cannot read.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The adapter cannot serve this (wrong chain, network or chain id; bad input).
    #[error("{0}")]
    Unsupported(String),
}

/// What a provider says about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The provider does not know it (never sent, or evicted from its mempool).
    Unknown,
    /// In the mempool.
    Pending,
    /// In a block; `success` false when it failed there.
    Included {
        /// Blocks on top, counting its own.
        confirmations: u64,
        /// Block height (Solana: slot).
        block: u64,
        /// Whether it succeeded.
        success: bool,
        /// The chain's failure reason, if any.
        reason: String,
    },
    /// Can never be included.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// One provider of one chain and network.
pub trait Adapter: Send + Sync {
    /// Which chain family and network it serves, and where, for logs and `node_status`.
    fn describe(&self) -> String;
    /// Whether it serves transactions with this intent (chain, network and — Ethereum — chain
    /// id all match).
    fn serves(&self, intent: &Intent) -> bool;
    /// Whether it serves wallets of this chain and network (balances).
    fn serves_wallet(&self, chain: Chain, network: Network) -> bool;
    /// Sends a signed transaction (in `mpc_protocol::chain::assemble`'s text form); returns the
    /// provider's transaction id. Sending one it already has is not an error for the caller:
    /// the caller observes afterwards.
    fn broadcast(&self, signed: &str) -> Result<String, ChainError>;
    /// What the provider knows of `txid` (the transaction of `intent`, `signed` in
    /// `assemble`'s text form).
    fn observe(&self, txid: &str, intent: &Intent, signed: &str) -> Result<Observed, ChainError>;
    /// The native balance of `address`, in the chain's smallest unit.
    fn balance(&self, address: &str) -> Result<u128, ChainError>;
    /// The balance of `address` in the token `contract` (Ethereum: ERC-20 `balanceOf`), in
    /// the token's smallest unit.
    fn token_balance(&self, address: &str, contract: &str) -> Result<u128, ChainError> {
        let _ = (address, contract);
        Err(ChainError::Unsupported(format!(
            "{}: token balances are not supported",
            self.describe()
        )))
    }
    /// Builds an unsigned native transfer from the provider's view of the chain (nonce, fees,
    /// gas, UTXOs or blockhash). A convenience: the node parses the bytes again when the
    /// request is submitted, and approvers approve what that parse shows.
    fn build_transfer(&self, req: &BuildRequest) -> Result<Built, ChainError>;
}

/// How much fee to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeLevel {
    /// The provider's low suggestion.
    Slow,
    /// Its median suggestion.
    #[default]
    Normal,
    /// Twice the median tip.
    Fast,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The paying wallet's address.
    pub from: String,
    /// Ethereum: the chain id the wallet signs for.
    pub chain_id: Option<u64>,
    /// Destination (canonical form).
    pub to: String,
    /// Amount in the smallest unit.
    pub amount: u128,
    /// Fee level.
    pub fee: FeeLevel,
    /// A token transfer of this contract or mint (Ethereum: ERC-20 `transfer`; Solana: SPL
    /// `TransferChecked`); `amount` is then in the token's smallest unit.
    pub token: Option<String>,
    /// The token's decimals (from the organisation's registry; SPL puts them in the
    /// instruction).
    pub token_decimals: Option<u8>,
    /// Solana: build over this durable nonce account (authority: the wallet) instead of a
    /// recent blockhash, so the transaction stays valid while approvals take hours.
    pub durable_nonce_account: Option<String>,
}

/// An unsigned transaction, ready for `request_submit`.
#[derive(Debug, Clone)]
pub struct Built {
    /// The exact bytes to sign.
    pub payload: Vec<u8>,
    /// Chain extras (Bitcoin spent outputs).
    pub extras: mpc_protocol::chain::PayloadExtras,
}

/// A configured provider: `chain:network=url`, e.g.
/// `ethereum:testnet=http://127.0.0.1:8545`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Chain family: `ethereum`, `bitcoin` (both address kinds) or `solana`.
    pub family: Family,
    /// Network.
    pub network: Network,
    /// Endpoint URL (`http://` or `https://`).
    pub url: String,
}

/// Chain families a provider serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Ethereum JSON-RPC.
    Ethereum,
    /// Solana JSON-RPC.
    Solana,
    /// Bitcoin Esplora REST (serves both wallet kinds, P2WPKH and P2TR).
    Bitcoin,
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (spec, url) = s.split_once('=').ok_or(
            "a provider is chain:network=url (e.g. ethereum:testnet=http://127.0.0.1:8545)",
        )?;
        let (family, network) = spec
            .split_once(':')
            .ok_or("a provider is chain:network=url")?;
        let family = match family {
            "ethereum" => Family::Ethereum,
            "solana" => Family::Solana,
            "bitcoin" => Family::Bitcoin,
            other => {
                return Err(format!(
                    "unknown chain '{other}' (ethereum, bitcoin or solana)"
                ))
            }
        };
        let network = match network {
            "mainnet" => Network::Mainnet,
            "testnet" => Network::Testnet,
            other => return Err(format!("unknown network '{other}' (mainnet or testnet)")),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
            return Err(format!(
                "provider URL '{url}' must be http(s):// and under 2 KiB"
            ));
        }
        Ok(Provider {
            family,
            network,
            url: url.to_string(),
        })
    }
}

/// A provider URL as logs and answers may show it: scheme, host and port only. Paths, queries
/// and user info often carry API keys.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    }
}

/// A transport error without the URL (which may carry an API key).
pub(crate) fn transport(url: &str, e: impl std::fmt::Display) -> ChainError {
    let text = e.to_string().replace(url, &redact_url(url));
    ChainError::Transport(text.chars().take(300).collect())
}

/// Largest provider answer read.
pub const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// A JSON-RPC 2.0 client over HTTP(S): one endpoint, a per-call timeout, answers bounded by
/// [`MAX_RESPONSE_BYTES`].
pub struct JsonRpc {
    url: String,
    agent: ureq::Agent,
    next_id: std::sync::atomic::AtomicU64,
}

impl JsonRpc {
    /// A client for `url` (`http(s)://…`).
    pub fn new(url: &str, timeout: Duration) -> Self {
        JsonRpc {
            url: url.to_string(),
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Calls `method` with `params`; the provider's error object becomes
    /// [`ChainError::Provider`].
    pub fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, ChainError> {
        use std::io::Read;
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body =
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp = match self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string())
        {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(transport(&self.url, e)),
        };
        let mut text = String::new();
        resp.into_reader()
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| transport(&self.url, e))?;
        if text.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(ChainError::Malformed(format!(
                "answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ChainError::Malformed(format!("not JSON: {e}")))?;
        if let Some(e) = v.get("error") {
            return Err(ChainError::Provider {
                code: e
                    .get("code")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(500)
                    .collect(),
            });
        }
        v.get("result")
            .cloned()
            .ok_or_else(|| ChainError::Malformed("neither result nor error".into()))
    }
}

/// Per-call timeout of the adapters the node makes.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a provider: checks it answers and serves the configured network (Ethereum:
/// reads its chain id; chain id 1 must be configured as mainnet and any other as testnet;
/// Solana and Bitcoin: its genesis hash, the main network's only for mainnet).
pub fn connect(p: &Provider) -> Result<Box<dyn Adapter>, ChainError> {
    match p.family {
        Family::Ethereum => Ok(Box::new(eth::EthAdapter::connect(
            &p.url,
            p.network,
            CALL_TIMEOUT,
        )?)),
        Family::Bitcoin => Ok(Box::new(btc::EsploraAdapter::connect(
            &p.url,
            p.network,
            CALL_TIMEOUT,
        )?)),
        Family::Solana => Ok(Box::new(sol::SolAdapter::connect(
            &p.url,
            p.network,
            CALL_TIMEOUT,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_secrets() {
        assert_eq!(
            redact_url("https://eth-mainnet.example/v2/SECRETKEY?x=1"),
            "https://eth-mainnet.example"
        );
        assert_eq!(
            redact_url("https://user:pw@host:8545/"),
            "https://host:8545"
        );
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        let e = transport(
            "https://h/v2/SECRET",
            "https://h/v2/SECRET: Connection refused",
        );
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn provider_specs() {
        let s: Provider = "solana:mainnet=https://api.mainnet-beta.solana.com"
            .parse()
            .unwrap();
        assert_eq!((s.family, s.network), (Family::Solana, Network::Mainnet));
        let p: Provider = "ethereum:testnet=http://127.0.0.1:8545".parse().unwrap();
        assert_eq!(
            (p.family, p.network, p.url.as_str()),
            (Family::Ethereum, Network::Testnet, "http://127.0.0.1:8545")
        );
        for bad in [
            "ethereum=http://x",
            "ethereum:devnet=http://x",
            "dogecoin:mainnet=http://x",
            "ethereum:mainnet=ftp://x",
            "ethereum:mainnet",
        ] {
            assert!(bad.parse::<Provider>().is_err(), "{bad}");
        }
    }
}
