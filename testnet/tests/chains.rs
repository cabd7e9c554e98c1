//! Signed transactions on real chain software (issue 12): funds actually move. One network, one
//! vault, two chains:
//!
//! - Ethereum: a local `anvil` (installed from npm by `testnet/ensure-chains.sh`, started and
//!   stopped by PID), every node configured with it as its provider. A node builds the EIP-1559
//!   transfer from what the chain says (nonce, fee history, gas estimate, `tx_build`); the
//!   network signs it after two approvals, broadcasts it by itself and follows it to 2
//!   confirmations agreed by t = 2 nodes; the balances move by exactly the amount and the fee.
//! - Solana: LiteSVM (npm `litesvm`, the Solana runtime) behind Solana's JSON-RPC API
//!   (`testnet/litesvm/rpc.cjs`) is every node's Solana provider. A durable-nonce transfer built
//!   by a node is approved across a blockhash expiry, broadcast by the network and confirmed;
//!   a rival over the same nonce is dropped; the balances move by the amount and the
//!   5,000-lamport fee.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
use mpc_custody::command::Action;
use mpc_custody::types::OrgId;
use mpc_protocol::chain::{Chain, Network, PayloadExtras};
use mpc_testnet::chains::{Anvil, LiteSvm};
use mpc_testnet::demo::{self, Demo, Net, Users};
use mpc_testnet::Cluster;
use serde_json::json;
use std::time::{Duration, Instant};

const ORG: &str = "chains";
const VAULT: &str = "chains-vault";

#[test]
fn approved_transfers_move_funds_on_anvil_and_litesvm() {
    // anvil mines a block a second, so that transactions gather confirmations.
    let anvil = Anvil::start_with(21_690, demo::ETH_CHAIN_ID, Some(1)).unwrap();
    eprintln!("--> anvil pid {} at {}", anvil.pid(), anvil.url);
    let svm = LiteSvm::start(21_691).unwrap();
    eprintln!("--> litesvm pid {} at {}", svm.pid(), svm.url);
    let rpc = anvil.rpc();
    // Every node broadcasts and watches through its own provider configuration.
    let provider = format!("ethereum:testnet={},solana:testnet={}", anvil.url, svm.url);
    let env = (1..=3)
        .map(|i| {
            (
                i,
                vec![("MPC_CHAIN_PROVIDERS".to_string(), provider.clone())],
            )
        })
        .collect();
    let c = Cluster::start_with_env(3, 21_600, Default::default(), env).unwrap();
    let say = |s: &str| eprintln!("--> {s}");
    let d = Demo::setup(&c, ORG, VAULT, &say).unwrap();
    let (net, users) = (&d.net, &d.users);
    let wallet = d.wallet(Chain::Ethereum).unwrap().clone();
    let wallet_id = wallet["wallet_id"].as_str().unwrap();
    let from = wallet["address"].as_str().unwrap().to_string();

    // Fund the vault's address on the chain: 1 ETH. The node reads the balance through its
    // provider and shows it in ETH.
    let funded: u128 = 1_000_000_000_000_000_000;
    anvil.set_balance(&from, funded).unwrap();
    let b = net
        .read_as(
            &users.alice,
            "wallet_balance",
            json!({ "wallet_id": wallet_id }),
        )
        .unwrap();
    assert_eq!(b["balance"], funded.to_string(), "{b}");
    assert!(b["display"].as_str().unwrap().starts_with("1 ETH"), "{b}");
    let to_before = rpc.balance(demo::ETH_TO).unwrap();

    // The node builds the transfer from the chain's own answers (nonce, fee history, gas) for a
    // member who may see the wallet; an outsider may not.
    let build = json!({ "wallet_id": wallet_id, "to": demo::ETH_TO, "amount": "0.01" });
    let outsider = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let e = net
        .read_as(&outsider, "tx_build", build.clone())
        .unwrap_err();
    assert!(e.to_string().contains("1008"), "{e}");
    let built = net.read_as(&users.ivan, "tx_build", build).unwrap();
    let amount: u128 = 10_000_000_000_000_000; // 0.01 ETH
    assert_eq!(built["intent"]["amount"], amount.to_string(), "{built}");
    assert_eq!(built["intent"]["details"]["nonce"], "0");
    assert_eq!(built["intent"]["details"]["gas_limit"], "21000");
    let max_fee: u128 = built["intent"]["details"]["max_fee_per_gas"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let payload = hex::decode(built["payload"].as_str().unwrap()).unwrap();

    // Submit, two approvals, the network signs.
    let req = demo::submit(
        net,
        users,
        ORG,
        wallet_id,
        &payload,
        &PayloadExtras::default(),
    )
    .unwrap();
    demo::approve(net, &users.alice, ORG, &req).unwrap();
    demo::approve(net, &users.bob, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(300)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let raw = done["signed_transaction"].as_str().unwrap();
    let txid = done["chain"]["txid"].as_str().unwrap().to_string();

    // The network broadcasts it by itself and follows it to 2 confirmations, final only once
    // t = 2 nodes saw it in the same block.
    let t0 = Instant::now();
    let confirmed = net.wait_chain(rid, Duration::from_secs(90)).unwrap();
    let chain = &confirmed["chain"];
    eprintln!(
        "--> {txid}: {} {:.1} s after signing: {chain}",
        chain["state"],
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(chain["state"], "confirmed", "{confirmed}");
    assert_eq!(chain["confirmations"], 2);
    assert!(chain["broadcast"]["node"].as_u64().is_some(), "{chain}");
    let agreeing = chain["observations"]
        .as_object()
        .unwrap()
        .values()
        .filter(|o| o["seen"]["seen"] == "included")
        .count();
    assert!(agreeing >= 2, "{chain}");

    // The chain agrees: the id the network computed is the mined transaction's; it succeeded.
    let receipt = rpc.receipt(&txid).unwrap().expect("mined");
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.transaction_hash, txid);
    assert_eq!(Some(receipt.block_number), chain["block"].as_u64());
    assert_eq!(receipt.gas_used, 21_000);
    assert!(receipt.effective_gas_price <= max_fee);

    // Exactly the amount arrived; the sender paid the amount and the fee; the nonce moved.
    assert_eq!(rpc.balance(demo::ETH_TO).unwrap(), to_before + amount);
    let after = funded - amount - receipt.fee_wei();
    assert_eq!(rpc.balance(&from).unwrap(), after);
    let b = net
        .read_as(
            &users.alice,
            "wallet_balance",
            json!({ "wallet_id": wallet_id }),
        )
        .unwrap();
    assert_eq!(b["balance"], after.to_string(), "{b}");
    assert_eq!(rpc.nonce(&from).unwrap(), 1);

    // The lifecycle is in the audit log, each step signed by the node that reported it.
    let audit = net.read("audit_list", json!({ "org_id": ORG })).unwrap();
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(kinds.contains(&"broadcast"), "{kinds:?}");
    assert!(kinds.contains(&"chain_observed"), "{kinds:?}");

    // The same signed transaction again is not a second payment.
    let again = rpc.send_raw(raw);
    assert!(again.is_err() || rpc.nonce(&from).unwrap() == 1);
    assert_eq!(rpc.balance(demo::ETH_TO).unwrap(), to_before + amount);

    erc20_transfer_confirms_on_anvil(net, users, &anvil, wallet_id, &from);
    solana_transfer_executes_on_litesvm(&d, &svm);
}

/// An ERC-20 the test deploys (`testnet/contracts/TestToken.sol`, compiled bytecode beside it,
/// solc 0.8.28), registered in the organisation's asset registry: a node builds the token
/// transfer, the network signs it after two approvals, broadcasts it and follows it to its
/// confirmations; `balanceOf` moves by exactly the amount, and the fee is paid in ETH.
fn erc20_transfer_confirms_on_anvil(
    net: &Net,
    users: &Users,
    anvil: &Anvil,
    wallet_id: &str,
    from: &str,
) {
    let rpc = anvil.rpc();
    // Deploy from anvil's first (unlocked) development account; the vault holds the supply.
    let supply: u128 = 1_000_000_000; // 1,000 TUSD (6 decimals)
    let code = include_str!("../contracts/TestToken.bin").trim();
    let args = format!(
        "{:0>64}{:064x}",
        from.trim_start_matches("0x").to_ascii_lowercase(),
        supply
    );
    let dev = rpc.call("eth_accounts", json!([])).unwrap()[0].clone();
    let hash = rpc
        .call(
            "eth_sendTransaction",
            json!([{ "from": dev, "data": format!("0x{code}{args}"), "gas": "0x200000" }]),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let contract = loop {
        let r = rpc
            .call("eth_getTransactionReceipt", json!([hash]))
            .unwrap();
        if let Some(a) = r["contractAddress"].as_str() {
            break a.to_string();
        }
        assert!(Instant::now() < deadline, "token not deployed within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("--> TestToken deployed at {contract}");
    assert_eq!(rpc.erc20_balance(&contract, from).unwrap(), supply);

    // Not in the registry yet: the network refuses to take the transfer.
    let unregistered = net.read_as(
        &users.ivan,
        "tx_build",
        json!({ "wallet_id": wallet_id, "to": demo::ETH_TO, "amount": "2.5", "asset": "TUSD" }),
    );
    assert!(unregistered.is_err());
    net.write(
        &net.admin,
        "asset_add",
        Action::AssetAdd {
            org_id: OrgId(ORG.into()),
            symbol: "TUSD".into(),
            chain: Chain::Ethereum,
            network: Network::Testnet,
            contract: contract.clone(),
            decimals: 6,
        },
    )
    .unwrap();
    let b = net
        .read_as(
            &users.alice,
            "wallet_balance",
            json!({ "wallet_id": wallet_id, "asset": "TUSD" }),
        )
        .unwrap();
    assert_eq!(b["balance"], supply.to_string(), "{b}");
    assert!(
        b["display"].as_str().unwrap().starts_with("1000 TUSD"),
        "{b}"
    );

    // 2.5 TUSD, built by a node: a call of the contract, no ETH sent.
    let built = net
        .read_as(
            &users.ivan,
            "tx_build",
            json!({ "wallet_id": wallet_id, "to": demo::ETH_TO, "amount": "2.5", "asset": "TUSD" }),
        )
        .unwrap();
    let units: u128 = 2_500_000;
    assert_eq!(built["intent"]["asset"], "TUSD", "{built}");
    assert_eq!(built["intent"]["amount"], units.to_string());
    assert_eq!(built["intent"]["transfers"][0]["to"], demo::ETH_TO);
    let payload = hex::decode(built["payload"].as_str().unwrap()).unwrap();
    let req = demo::submit(
        net,
        users,
        ORG,
        wallet_id,
        &payload,
        &PayloadExtras::default(),
    )
    .unwrap();
    assert_eq!(
        req["intent"]["asset"], "TUSD",
        "named by the registry: {req}"
    );
    assert_eq!(req["intent"]["token"]["decimals"], 6);
    demo::approve(net, &users.alice, ORG, &req).unwrap();
    demo::approve(net, &users.carol, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(300)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let eth_before = rpc.balance(from).unwrap();
    let confirmed = net.wait_chain(rid, Duration::from_secs(90)).unwrap();
    assert_eq!(confirmed["chain"]["state"], "confirmed", "{confirmed}");
    let receipt = rpc
        .receipt(confirmed["chain"]["txid"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(receipt.success);
    assert_eq!(rpc.erc20_balance(&contract, demo::ETH_TO).unwrap(), units);
    assert_eq!(rpc.erc20_balance(&contract, from).unwrap(), supply - units);
    // The fee was paid in ETH (the transfer may have landed before `eth_before` was read).
    let eth_after = rpc.balance(from).unwrap();
    assert!(eth_after == eth_before || eth_after == eth_before - receipt.fee_wei());
    eprintln!(
        "--> {}: 2.5 TUSD moved, fee {} wei",
        confirmed["chain"]["txid"],
        receipt.fee_wei()
    );
}

/// Solana through the network: a durable-nonce transfer built by a node, approved across a
/// blockhash expiry (what waiting hours for approvals does), broadcast by the network and
/// confirmed; a second transfer over the same nonce is then dropped (t nodes agree); the
/// runtime refuses a replay and a forged signature.
fn solana_transfer_executes_on_litesvm(d: &Demo, svm: &LiteSvm) {
    let (net, users) = (&d.net, &d.users);
    let wallet = d.wallet(Chain::Solana).unwrap();
    let wallet_id = wallet["wallet_id"].as_str().unwrap();
    let from = wallet["address"].as_str().unwrap().to_string();
    let to = demo::sol_to();
    let funded = 1_000_000_000u64; // 1 SOL
    svm.airdrop(&from, funded).unwrap();
    let b = net
        .read_as(
            &users.alice,
            "wallet_balance",
            json!({ "wallet_id": wallet_id }),
        )
        .unwrap();
    assert_eq!(b["balance"], funded.to_string(), "{b}");
    let to_before = svm.balance(&to).unwrap();
    // A nonce account the vault's wallet advances.
    let nonce_account = svm.create_nonce_account(&from).unwrap();

    let amount = 1_000_000u64; // 0.001 SOL (above the rent-exempt minimum of a new account)
    let build = |amount: u64| {
        net.read_as(
            &users.ivan,
            "tx_build",
            json!({
                "wallet_id": wallet_id,
                "to": to,
                "amount_base_units": amount.to_string(),
                "durable_nonce_account": nonce_account,
            }),
        )
        .unwrap()
    };
    let built = build(amount);
    let details = &built["intent"]["details"];
    assert_eq!(
        details["durable_nonce_account"],
        nonce_account.as_str(),
        "{built}"
    );
    assert!(details.get("recent_blockhash").is_none(), "{built}");
    // A second transfer over the same nonce: only one of the two can ever land.
    let rival = build(amount + 1);
    let submit = |b: &serde_json::Value| {
        let payload = hex::decode(b["payload"].as_str().unwrap()).unwrap();
        demo::submit(
            net,
            users,
            ORG,
            wallet_id,
            &payload,
            &PayloadExtras::default(),
        )
        .unwrap()
    };
    let req = submit(&built);
    let rival_req = submit(&rival);
    demo::approve(net, &users.alice, ORG, &req).unwrap();
    // Time passes before the second approval: every recent blockhash expires. A durable nonce
    // does not.
    svm.expire_blockhash().unwrap();
    demo::approve(net, &users.carol, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(120)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let signed = done["signed_transaction"].as_str().unwrap().to_string();
    let confirmed = net.wait_chain(rid, Duration::from_secs(60)).unwrap();
    assert_eq!(confirmed["chain"]["state"], "confirmed", "{confirmed}");
    eprintln!("--> solana: {}", confirmed["chain"]);
    assert_eq!(svm.balance(&to).unwrap(), to_before + amount);
    assert_eq!(svm.balance(&from).unwrap(), funded - amount - 5_000);

    // The rival is signed too, but its nonce has moved on: the network reports it dropped.
    demo::approve(net, &users.alice, ORG, &rival_req).unwrap();
    demo::approve(net, &users.bob, ORG, &rival_req).unwrap();
    let rival_id = rival_req["request_id"].as_str().unwrap();
    let done = net
        .wait_request(rival_id, Duration::from_secs(120))
        .unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let dropped = net.wait_chain(rival_id, Duration::from_secs(60)).unwrap();
    assert_eq!(dropped["chain"]["state"], "dropped", "{dropped}");
    assert!(
        dropped["chain"]["reason"]
            .as_str()
            .unwrap()
            .contains("advanced"),
        "{dropped}"
    );
    assert_eq!(
        svm.balance(&to).unwrap(),
        to_before + amount,
        "nothing moved twice"
    );

    // The same transaction again is refused (already processed); nothing moves twice.
    assert!(svm.send(&signed).is_err());
    assert_eq!(svm.balance(&to).unwrap(), to_before + amount);
    // A transaction whose signature is not the wallet's is refused by the runtime.
    use base64::Engine;
    let mut forged = base64::engine::general_purpose::STANDARD
        .decode(&signed)
        .unwrap();
    forged[10] ^= 1;
    let forged = base64::engine::general_purpose::STANDARD.encode(forged);
    let e = svm.send(&forged).unwrap_err();
    eprintln!("--> a forged signature: {e}");
    assert_eq!(svm.balance(&from).unwrap(), funded - amount - 5_000);

    spl_transfer_confirms_on_litesvm(net, users, wallet_id, &from, svm);
}

/// An SPL token (a mint made in LiteSVM, 6 decimals, registered as SUSD): a node builds the
/// TransferChecked from the wallet's associated token account, creating the recipient's; the
/// network signs, broadcasts and confirms it; the runtime's associated-token-account program
/// checks our address derivation, and the balances move by exactly the amount.
fn spl_transfer_confirms_on_litesvm(
    net: &Net,
    users: &Users,
    wallet_id: &str,
    from: &str,
    svm: &LiteSvm,
) {
    use mpc_protocol::chain::sol::associated_token_account;
    let key = |s: &str| -> [u8; 32] { bs58::decode(s).into_vec().unwrap().try_into().unwrap() };
    let mint = svm.call("litesvm_createMint", json!([6])).unwrap();
    let mint = mint.as_str().unwrap().to_string();
    let held: u64 = 5_000_000; // 5 SUSD
    let source =
        bs58::encode(associated_token_account(&key(from), &key(&mint)).unwrap()).into_string();
    svm.call("litesvm_setTokenAccount", json!([source, mint, from, held]))
        .unwrap();
    net.write(
        &net.admin,
        "asset_add",
        Action::AssetAdd {
            org_id: OrgId(ORG.into()),
            symbol: "SUSD".into(),
            chain: Chain::Solana,
            network: Network::Testnet,
            contract: mint.clone(),
            decimals: 6,
        },
    )
    .unwrap();
    let b = net
        .read_as(
            &users.alice,
            "wallet_balance",
            json!({ "wallet_id": wallet_id, "asset": "SUSD" }),
        )
        .unwrap();
    assert_eq!(b["balance"], held.to_string(), "{b}");
    // Creating the recipient's token account may cost the wallet its rent: the fee counted is up
    // to 5,000 + 2,039,280 lamports, above the demo policy's 0.0001 SOL fee cap. Raise the cap.
    let vault = net.read("wallet_get", json!({ "wallet_id": wallet_id }));
    let vault_id = vault
        .ok()
        .and_then(|w| w["vault_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| VAULT.to_string());
    let policy = net
        .read_as(&users.alice, "policy_get", json!({ "vault_id": vault_id }))
        .unwrap();
    let mut rules: mpc_custody::PolicyRules =
        serde_json::from_value(policy["rules"].clone()).unwrap();
    for cap in &mut rules.max_fee {
        if cap.asset == "SOL" {
            cap.max_fee = mpc_protocol::chain::Amount(10_000_000);
        }
    }
    net.write(
        &net.admin,
        "policy_set",
        Action::PolicySet {
            org_id: OrgId(ORG.into()),
            vault_id: vault_id.as_str().into(),
            rules,
        },
    )
    .unwrap();

    let to = demo::sol_to();
    let built = net
        .read_as(
            &users.ivan,
            "tx_build",
            json!({ "wallet_id": wallet_id, "to": to, "amount": "1.25", "asset": "SUSD" }),
        )
        .unwrap();
    assert_eq!(built["intent"]["asset"], "SUSD", "{built}");
    assert_eq!(built["intent"]["token"]["standard"], "spl_token");
    assert_eq!(built["intent"]["transfers"][0]["to"], to.as_str());
    let payload = hex::decode(built["payload"].as_str().unwrap()).unwrap();
    let req = demo::submit(
        net,
        users,
        ORG,
        wallet_id,
        &payload,
        &PayloadExtras::default(),
    )
    .unwrap();
    assert_eq!(req["status"]["state"], "pending", "{req}");
    demo::approve(net, &users.bob, ORG, &req).unwrap();
    demo::approve(net, &users.carol, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(120)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let confirmed = net.wait_chain(rid, Duration::from_secs(60)).unwrap();
    assert_eq!(confirmed["chain"]["state"], "confirmed", "{confirmed}");
    let units: u64 = 1_250_000;
    let dest =
        bs58::encode(associated_token_account(&key(&to), &key(&mint)).unwrap()).into_string();
    let bal = |a: &str| {
        svm.call("getTokenAccountBalance", json!([a])).unwrap()["value"]["amount"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(
        bal(&dest),
        units,
        "the recipient's associated account, created by the runtime"
    );
    assert_eq!(bal(&source), held - units);
    eprintln!("--> solana: 1.25 SUSD moved to {dest}");
}
