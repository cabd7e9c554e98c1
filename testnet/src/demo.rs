//! The custody demo, shared by `mpc-demo` (run by `testnet/demo.sh`) and the end-to-end tests:
//! organisation and users, a vault made by DKG on every node, ETH / BTC P2WPKH / BTC P2TR / SOL
//! wallets, an address book and a 2-of-3 policy, then one transfer per chain submitted,
//! approved by two approvers and signed by the nodes.

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use mpc_cli::client::RpcClient;
use mpc_cli::sign::sign_action;
use mpc_cli::tls::Endpoint;
use mpc_custody::command::Action;
use mpc_custody::types::{OrgId, Role, UserId, UserKey};
use mpc_custody::{AutoApprove, FeeCap, LimitAction, PolicyRules, SpendLimit};
use mpc_protocol::chain::units::display_amount;
use mpc_protocol::chain::{Amount, Chain, Network, PayloadExtras, SpentOutput};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// ETH destination (whitelisted).
pub const ETH_TO: &str = "0x000000000000000000000000000000000000dEaD";
/// BTC destination (testnet, whitelisted).
pub const BTC_TO: &str = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
/// Sepolia.
pub const ETH_CHAIN_ID: u64 = 11_155_111;

/// SOL destination (whitelisted).
pub fn sol_to() -> String {
    bs58::encode([0x42u8; 32]).into_string()
}

/// The people of the demo.
pub struct Users {
    /// Approvers.
    pub alice: SigningKey,
    /// Approver.
    pub bob: SigningKey,
    /// Approver.
    pub carol: SigningKey,
    /// Initiator.
    pub ivan: SigningKey,
}

impl Users {
    /// Fresh random keys.
    pub fn random() -> Self {
        let k = || SigningKey::generate(&mut rand::rngs::OsRng);
        Users {
            alice: k(),
            bob: k(),
            carol: k(),
            ivan: k(),
        }
    }
}

/// A connection to the network as one admin.
pub struct Net {
    /// One client per node.
    pub clients: Vec<RpcClient>,
    /// Genesis hash.
    pub cluster_id: String,
    /// Genesis admin.
    pub admin: SigningKey,
    counter: std::cell::Cell<u64>,
}

impl Net {
    /// A connection.
    pub fn new(endpoints: &[Endpoint], cluster_id: &str, admin: SigningKey) -> Self {
        Net {
            clients: endpoints
                .iter()
                .map(|e| RpcClient::new(e, Duration::from_secs(30)))
                .collect(),
            cluster_id: cluster_id.to_string(),
            admin,
            counter: std::cell::Cell::new(0),
        }
    }

    fn client(&self) -> &RpcClient {
        let i = self.counter.get();
        self.counter.set(i + 1);
        &self.clients[(i as usize) % self.clients.len()]
    }

    /// Signs `action` with `key` and sends it (round-robin over nodes); returns the result.
    pub fn write(&self, key: &SigningKey, method: &str, action: Action) -> anyhow::Result<Value> {
        let idem = mpc_cli::sign::random_idempotency_key();
        let cmd =
            sign_action(key, &self.cluster_id, &idem, action).map_err(|e| anyhow::anyhow!(e))?;
        Ok(self.client().call(method, json!({ "command": cmd }))?)
    }

    /// A read on any node, linearizable, authenticated as the admin this connection holds
    /// (a member of the organisations it created).
    pub fn read(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.read_as(&self.admin, method, params)
    }

    /// A read on any node, linearizable, authenticated as `key`.
    pub fn read_as(
        &self,
        key: &SigningKey,
        method: &str,
        mut params: Value,
    ) -> anyhow::Result<Value> {
        params["linearizable"] = json!(true);
        let params =
            mpc_cli::client::Reader::new(key.clone(), &self.cluster_id).sign(method, params)?;
        Ok(self.client().call(method, params)?)
    }

    /// Polls a signed request until its transaction is final on its chain (confirmed, failed
    /// or dropped, as `t` nodes observed it).
    pub fn wait_chain(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let t0 = Instant::now();
        loop {
            let r = self.read("request_get", json!({ "request_id": id }))?;
            let st = r["chain"]["state"].as_str().unwrap_or("").to_string();
            if matches!(st.as_str(), "confirmed" | "failed" | "dropped") {
                return Ok(r);
            }
            if t0.elapsed() > timeout {
                bail!(
                    "transaction of {id} still '{st}' after {timeout:?}: {}",
                    r["chain"]
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls a request until it is signed, rejected or failed.
    pub fn wait_request(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let t0 = Instant::now();
        loop {
            let r = self.read("request_get", json!({ "request_id": id }))?;
            let st = r["status"]["state"].as_str().unwrap_or("").to_string();
            if matches!(st.as_str(), "signed" | "rejected" | "failed") {
                return Ok(r);
            }
            if t0.elapsed() > timeout {
                bail!("request {id} still {st} after {timeout:?}: {r}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What the demo produced for one chain (also written to `<chain>.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ChainResult {
    /// Chain.
    pub chain: Chain,
    /// Network.
    pub network: Network,
    /// Wallet id.
    pub wallet_id: String,
    /// Address.
    pub address: String,
    /// Wallet public key (hex).
    pub public_key: String,
    /// Unsigned payload (hex).
    pub unsigned_payload: String,
    /// Bitcoin spent outputs.
    pub spent_outputs: Vec<SpentOutput>,
    /// Request id.
    pub request_id: String,
    /// The parsed intent.
    pub intent: Value,
    /// Signed transaction (ETH/BTC hex, SOL base64).
    pub signed_transaction: String,
    /// Transaction id, computed by the network from the signed transaction.
    pub txid: String,
    /// Where it ended: `confirmed` / `failed` / `dropped` on a chain the nodes have a provider
    /// for, else `signed` (not broadcast).
    pub final_status: String,
    /// The chain record (broadcast, each node's observations), when broadcast.
    pub chain_status: Value,
}

/// Creates the organisation, members, vault, wallets, address book and policy. Returns the
/// wallets by chain.
pub fn setup(
    net: &Net,
    users: &Users,
    org: &str,
    vault: &str,
    say: &dyn Fn(&str),
) -> anyhow::Result<Vec<(Chain, Value)>> {
    let o = OrgId(org.into());
    say(&format!("creating organisation {org}"));
    net.write(
        &net.admin,
        "org_create",
        Action::OrgCreate {
            org_id: o.clone(),
            name: "Acme Custody".into(),
            admin_user_id: UserId("admin".into()),
            admin_public_key: None,
        },
    )?;
    for (name, key, role) in [
        ("alice", &users.alice, Role::Approver),
        ("bob", &users.bob, Role::Approver),
        ("carol", &users.carol, Role::Approver),
        ("ivan", &users.ivan, Role::Initiator),
    ] {
        net.write(
            &net.admin,
            "member_add",
            Action::MemberAdd {
                org_id: o.clone(),
                user_id: UserId(name.into()),
                public_key: UserKey(key.verifying_key().to_bytes()),
                roles: vec![role],
            },
        )?;
    }
    say(&format!(
        "creating vault {vault}: every node runs DKG (ECDSA, FROST ed25519, FROST secp256k1-tr)"
    ));
    let t0 = Instant::now();
    net.write(
        &net.admin,
        "vault_create",
        Action::VaultCreate {
            org_id: o.clone(),
            vault_id: vault.into(),
            name: "Treasury".into(),
        },
    )?;
    loop {
        let v = net.read("vault_get", json!({ "vault_id": vault }))?;
        match v["status"]["state"].as_str() {
            Some("active") => break,
            Some("failed") => bail!("vault failed: {}", v["status"]),
            _ => {}
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!("vault still pending after 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    say(&format!(
        "vault active after {} ms",
        t0.elapsed().as_millis()
    ));
    let mut wallets = Vec::new();
    for chain in [
        Chain::Ethereum,
        Chain::BitcoinP2wpkh,
        Chain::BitcoinP2tr,
        Chain::Solana,
    ] {
        let r = net.write(
            &net.admin,
            "wallet_create",
            Action::WalletCreate {
                org_id: o.clone(),
                vault_id: vault.into(),
                chain,
                network: Network::Testnet,
                index: 0,
                chain_id: None,
            },
        )?;
        let w = r["result"]["wallet"].clone();
        say(&format!(
            "wallet {:<16} {}",
            chain.as_str(),
            w["address"].as_str().unwrap_or("?")
        ));
        wallets.push((chain, w));
    }
    for (chain, addr, label) in [
        (Chain::Ethereum, ETH_TO.to_string(), "eth-cold"),
        (Chain::BitcoinP2wpkh, BTC_TO.to_string(), "btc-cold"),
        (Chain::Solana, sol_to(), "sol-cold"),
    ] {
        net.write(
            &net.admin,
            "addressbook_add",
            Action::AddressBookAdd {
                org_id: o.clone(),
                chain,
                network: Network::Testnet,
                address: addr,
                label: label.into(),
            },
        )?;
    }
    let rules = PolicyRules {
        approvers: approvers(),
        threshold: 2,
        whitelist_required: true,
        limits: vec![
            SpendLimit {
                asset: "ETH".into(),
                window_secs: 86_400,
                max_amount: Amount(5_000_000_000_000_000_000),
                action: LimitAction::RequireAdmin,
            },
            SpendLimit {
                asset: "BTC".into(),
                window_secs: 3_600,
                max_amount: Amount(50_000_000),
                action: LimitAction::Reject,
            },
        ],
        auto_approve: vec![],
        max_fee: vec![
            FeeCap {
                asset: "ETH".into(),
                max_fee: Amount(10_000_000_000_000_000),
            },
            FeeCap {
                asset: "BTC".into(),
                max_fee: Amount(100_000),
            },
            FeeCap {
                asset: "SOL".into(),
                max_fee: Amount(100_000),
            },
        ],
        allowed_calls: vec![],
        request_ttl_secs: None,
    };
    say("policy: 2 of alice/bob/carol, whitelist required, ETH 5/24 h (admin beyond), BTC 0.5/1 h (reject beyond), fees counted in the windows and capped at 0.01 ETH / 0.001 BTC / 0.0001 SOL");
    net.write(
        &net.admin,
        "policy_set",
        Action::PolicySet {
            org_id: o,
            vault_id: vault.into(),
            rules,
        },
    )?;
    Ok(wallets)
}

/// Builds the demo transfer for a wallet.
pub fn transfer_for(
    chain: Chain,
    wallet: &Value,
    amount: u64,
) -> anyhow::Result<(Vec<u8>, PayloadExtras)> {
    let addr = wallet["address"].as_str().context("wallet address")?;
    Ok(match chain {
        Chain::Ethereum => (
            mpc_cli::txbuild::eth_transfer(
                ETH_CHAIN_ID,
                0,
                ETH_TO,
                u128::from(amount),
                30_000_000_000,
                1_000_000_000,
            )?,
            PayloadExtras::default(),
        ),
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => {
            // A made-up output (no bitcoind here, see docs/operations.md), a fresh one per
            // transfer: the network fixes each output's amount at its first reserved spend.
            let utxo = format!("{}:0", hex::encode(rand::random::<[u8; 32]>()));
            let (tx, spent) =
                mpc_cli::txbuild::btc_spend(addr, &utxo, 100_000 + amount, BTC_TO, amount, 500)?;
            (
                tx,
                PayloadExtras {
                    spent_outputs: vec![spent],
                },
            )
        }
        Chain::Solana => (
            mpc_cli::txbuild::sol_transfer(
                addr,
                &sol_to(),
                amount,
                &bs58::encode([9u8; 32]).into_string(),
            )?,
            PayloadExtras::default(),
        ),
    })
}

/// Funds the Ethereum wallet with 1 ETH on the local anvil (its `anvil_setBalance`: the local
/// chain's faucet) and has a node build the transfer from the chain's nonce, fees and gas.
fn eth_funded_and_built(
    net: &Net,
    users: &Users,
    wallet: &Value,
    rpc: &mpc_chains::eth::EthRpc,
    amount: u128,
    say: &dyn Fn(&str),
) -> anyhow::Result<(Vec<u8>, PayloadExtras)> {
    let from = wallet["address"].as_str().context("address")?;
    let wallet_id = wallet["wallet_id"].as_str().context("wallet id")?;
    rpc.call(
        "anvil_setBalance",
        json!([from, format!("0x{:x}", 1_000_000_000_000_000_000u128)]),
    )?;
    let b = net.read_as(
        &users.ivan,
        "wallet_balance",
        json!({ "wallet_id": wallet_id }),
    )?;
    let eth = |wei: u128| display_amount(Chain::Ethereum, "ETH", Amount(wei));
    say(&format!(
        "ethereum: balances before: vault {} (through the node's provider), destination {}",
        b["display"].as_str().unwrap_or("?"),
        eth(rpc.balance(ETH_TO)?)
    ));
    let built = net.read_as(
        &users.ivan,
        "tx_build",
        json!({
            "wallet_id": wallet_id,
            "to": ETH_TO,
            "amount_base_units": amount.to_string(),
        }),
    )?;
    let payload = hex::decode(built["payload"].as_str().context("built payload")?)?;
    Ok((payload, PayloadExtras::default()))
}

/// Submits `payload` as `users.ivan`; returns the request.
pub fn submit(
    net: &Net,
    users: &Users,
    org: &str,
    wallet_id: &str,
    payload: &[u8],
    extras: &PayloadExtras,
) -> anyhow::Result<Value> {
    let r = net.write(
        &users.ivan,
        "request_submit",
        Action::RequestSubmit {
            org_id: OrgId(org.into()),
            wallet_id: wallet_id.into(),
            payload: hex::encode(payload),
            extras: extras.clone(),
        },
    )?;
    Ok(r["result"]["request"].clone())
}

/// Approves `request` as `key` over the digest it shows.
pub fn approve(net: &Net, key: &SigningKey, org: &str, request: &Value) -> anyhow::Result<Value> {
    net.write(
        key,
        "request_approve",
        Action::RequestApprove {
            org_id: OrgId(org.into()),
            request_id: request["request_id"].as_str().context("request id")?.into(),
            intent_digest: request["intent_digest"].as_str().context("digest")?.into(),
        },
    )
}

/// One transfer per chain, approved by alice and bob, waited for; results written to `out`.
/// With `eth` (a local anvil the nodes use as their Ethereum provider), the Ethereum transfer is
/// funded there, built by a node (`tx_build`), broadcast by the network and followed to its
/// confirmations, with the balances before and after.
pub fn transfers(
    net: &Net,
    users: &Users,
    org: &str,
    wallets: &[(Chain, Value)],
    out: Option<&Path>,
    eth: Option<&mpc_chains::eth::EthRpc>,
    say: &dyn Fn(&str),
) -> anyhow::Result<Vec<ChainResult>> {
    let mut results = Vec::new();
    for (chain, w) in wallets {
        let amount: u64 = match chain {
            Chain::Ethereum => 10_000_000_000_000_000, // 0.01 ETH
            Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => 25_000,
            Chain::Solana => 1_000_000,
        };
        let wallet_id = w["wallet_id"].as_str().context("wallet id")?;
        let on_chain = eth.filter(|_| *chain == Chain::Ethereum);
        let (payload, extras) = match on_chain {
            Some(rpc) => eth_funded_and_built(net, users, w, rpc, u128::from(amount), say)?,
            None => transfer_for(*chain, w, amount)?,
        };
        let req = submit(net, users, org, wallet_id, &payload, &extras)?;
        let rid = req["request_id"]
            .as_str()
            .context("request id")?
            .to_string();
        let intent = &req["intent"];
        let asset = intent["asset"].as_str().unwrap_or("?");
        let shown = |field: &str| {
            intent[field]
                .as_str()
                .and_then(|v| v.parse::<u128>().ok())
                .map(|v| display_amount(*chain, asset, Amount(v)))
                .unwrap_or_else(|| "?".into())
        };
        say(&format!(
            "{chain}: request {rid} pending — {} to {}, fee at most {}",
            shown("amount"),
            intent["transfers"][0]["to"].as_str().unwrap_or("?"),
            shown("fee")
        ));
        approve(net, &users.alice, org, &req)?;
        approve(net, &users.bob, org, &req)?;
        let t0 = Instant::now();
        // The first ECDSA request may still wait for the one-off aux info, which starts when
        // the network forms (the primes were made by `mpc-node init`).
        let done = net.wait_request(&rid, Duration::from_secs(300))?;
        if done["status"]["state"] != "signed" {
            bail!("{chain}: request {rid} ended {}", done["status"]);
        }
        let signed = done["signed_transaction"]
            .as_str()
            .context("signed transaction")?
            .to_string();
        say(&format!(
            "{chain}: signed {} ms after the second approval",
            t0.elapsed().as_millis()
        ));
        let txid = done["chain"]["txid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (final_status, chain_status) = match on_chain {
            Some(rpc) => {
                let t1 = Instant::now();
                let f = net.wait_chain(&rid, Duration::from_secs(120))?;
                let c = f["chain"].clone();
                let state = c["state"].as_str().unwrap_or("?").to_string();
                say(&format!(
                    "{chain}: {txid} broadcast by node {} and {state} ({} confirmations, block {}, agreed by {} nodes) {} ms after signing",
                    c["broadcast"]["node"],
                    c["confirmations"],
                    c["block"],
                    c["observations"].as_object().map(|o| o.len()).unwrap_or(0),
                    t1.elapsed().as_millis()
                ));
                let from = w["address"].as_str().context("address")?;
                let eth = |wei: u128| display_amount(Chain::Ethereum, "ETH", Amount(wei));
                say(&format!(
                    "{chain}: balances now: vault {} (was 1 ETH), destination {}",
                    eth(rpc.balance(from)?),
                    eth(rpc.balance(ETH_TO)?)
                ));
                (state, c)
            }
            None => ("signed".to_string(), Value::Null),
        };
        let r = ChainResult {
            chain: *chain,
            network: Network::Testnet,
            wallet_id: wallet_id.into(),
            address: w["address"].as_str().unwrap_or_default().into(),
            public_key: w["public_key"].as_str().unwrap_or_default().into(),
            unsigned_payload: hex::encode(&payload),
            spent_outputs: extras.spent_outputs.clone(),
            request_id: rid,
            intent: done["intent"].clone(),
            signed_transaction: signed,
            txid,
            final_status,
            chain_status,
        };
        if let Some(dir) = out {
            std::fs::create_dir_all(dir)?;
            let file = dir.join(format!("{}.json", chain.as_str()));
            std::fs::write(&file, serde_json::to_string_pretty(&r)?)?;
        }
        results.push(r);
    }
    Ok(results)
}

/// The demo's approvers (2 of them approve a request).
fn approvers() -> Vec<UserId> {
    ["alice", "bob", "carol"]
        .iter()
        .map(|u| UserId(u.to_string()))
        .collect()
}

/// Replaces the demo vault's policy by one that approves, on submission, every request of at
/// most `max` (smallest units) of each listed asset (benchmarks and load tests: no human in
/// the loop); the address book stays required. As a custody policy would, it also holds each
/// asset to a daily spending limit (a million times `max`, so that a benchmark never reaches
/// it but every request is checked against it).
pub fn auto_approve(net: &Net, org: &str, vault: &str, max: &[(&str, u128)]) -> anyhow::Result<()> {
    let rules = PolicyRules {
        approvers: approvers(),
        threshold: 2,
        whitelist_required: true,
        limits: max
            .iter()
            .map(|(asset, amount)| SpendLimit {
                asset: (*asset).into(),
                window_secs: 86_400,
                max_amount: Amount(amount.saturating_mul(1_000_000)),
                action: LimitAction::Reject,
            })
            .collect(),
        max_fee: vec![],
        allowed_calls: vec![],
        request_ttl_secs: None,
        auto_approve: max
            .iter()
            .map(|(asset, amount)| AutoApprove {
                asset: (*asset).into(),
                max_amount: Amount(*amount),
            })
            .collect(),
    };
    net.write(
        &net.admin,
        "policy_set",
        Action::PolicySet {
            org_id: OrgId(org.into()),
            vault_id: vault.into(),
            rules,
        },
    )?;
    Ok(())
}

/// A running network set up as the demo's organisation (see [`setup`]), for end-to-end tests.
pub struct Demo {
    /// One client per node, as the genesis admin.
    pub net: Net,
    /// The organisation's users.
    pub users: Users,
    /// Each node's RPC endpoint.
    pub endpoints: Vec<Endpoint>,
    /// The wallets by chain.
    pub wallets: Vec<(Chain, Value)>,
}

impl Demo {
    /// Sets up organisation `org` and vault `vault` (with its wallets) on cluster `c`, through
    /// every node; `say` hears the steps.
    pub fn setup(
        c: &crate::Cluster,
        org: &str,
        vault: &str,
        say: &dyn Fn(&str),
    ) -> anyhow::Result<Demo> {
        let endpoints: Vec<Endpoint> = c.nodes.iter().map(|n| n.endpoint.clone()).collect();
        let net = Net::new(&endpoints, &c.cluster_id, c.admin.clone());
        let users = Users::random();
        let wallets = setup(&net, &users, org, vault, say)?;
        Ok(Demo {
            net,
            users,
            endpoints,
            wallets,
        })
    }

    /// As [`Demo::setup`], then a policy that approves requests of up to `max` by itself
    /// ([`auto_approve`]): for load and operations tests, no human in the loop.
    pub fn with_auto_approve(
        c: &crate::Cluster,
        org: &str,
        vault: &str,
        max: &[(&str, u128)],
    ) -> anyhow::Result<Demo> {
        let d = Demo::setup(c, org, vault, &|_| {})?;
        auto_approve(&d.net, org, vault, max)?;
        Ok(d)
    }

    /// The wallet on `chain`.
    pub fn wallet(&self, chain: Chain) -> anyhow::Result<&Value> {
        self.wallets
            .iter()
            .find(|(ch, _)| *ch == chain)
            .map(|(_, w)| w)
            .with_context(|| format!("no {} wallet", chain.as_str()))
    }
}
