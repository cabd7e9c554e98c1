//! Signed transactions on real chain software (issue 12): funds actually move. One network, one
//! vault, two chains:
//!
//! - Ethereum: a local `anvil` (installed from npm by `testnet/ensure-chains.sh`, started and
//!   stopped by PID). The network signs an EIP-1559 transfer built from what the chain says
//!   (nonce, fee history, gas estimate) through the `mpc-chains` adapter; anvil executes it, and
//!   the balances move by exactly the amount and the fee.
//! - Solana: LiteSVM (npm `litesvm`, the Solana runtime) executes the System transfer the network
//!   signs over LiteSVM's own blockhash, with signature verification on; the balances move by the
//!   amount and the 5,000-lamport fee.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
use mpc_protocol::chain::{Chain, PayloadExtras};
use mpc_testnet::chains::{Anvil, LiteSvm};
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::Cluster;
use std::time::{Duration, Instant};

const ORG: &str = "chains";
const VAULT: &str = "chains-vault";

fn wallet_of(wallets: &[(Chain, serde_json::Value)], chain: Chain) -> serde_json::Value {
    wallets.iter().find(|(c, _)| *c == chain).unwrap().1.clone()
}

#[test]
fn approved_transfers_move_funds_on_anvil_and_litesvm() {
    let anvil = Anvil::start(21_690, demo::ETH_CHAIN_ID).unwrap();
    eprintln!("--> anvil pid {} at {}", anvil.pid(), anvil.url);
    let rpc = anvil.rpc();
    let c = Cluster::start(3, 21_600).unwrap();
    let endpoints: Vec<mpc_testnet::Endpoint> =
        c.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let net = Net::new(&endpoints, &c.cluster_id, c.admin.clone());
    let users = Users::random();
    let say = |s: &str| eprintln!("--> {s}");
    let wallets = demo::setup(&net, &users, ORG, VAULT, &say).unwrap();
    let wallet = wallet_of(&wallets, Chain::Ethereum);
    let from = wallet["address"].as_str().unwrap().to_string();

    // Fund the vault's address on the chain: 1 ETH.
    let funded: u128 = 1_000_000_000_000_000_000;
    anvil.set_balance(&from, funded).unwrap();
    assert_eq!(rpc.balance(&from).unwrap(), funded);
    let to_before = rpc.balance(demo::ETH_TO).unwrap();

    // Build from the chain's own answers: nonce, fees, gas.
    let amount: u128 = 10_000_000_000_000_000; // 0.01 ETH
    let nonce = rpc.nonce(&from).unwrap();
    assert_eq!(nonce, 0);
    let fees = rpc.fee_suggestion().unwrap();
    assert!(fees.max_fee_per_gas > fees.next_base_fee);
    let gas = rpc.estimate_gas(&from, demo::ETH_TO, amount, &[]).unwrap();
    assert_eq!(gas, 21_000, "a plain transfer");
    let payload = mpc_cli::txbuild::eth_transfer(
        rpc.chain_id().unwrap(),
        nonce,
        demo::ETH_TO,
        amount,
        fees.max_fee_per_gas,
        fees.max_priority_fee_per_gas,
    )
    .unwrap();

    // Submit, two approvals, the network signs.
    let req = demo::submit(
        &net,
        &users,
        ORG,
        wallet["wallet_id"].as_str().unwrap(),
        &payload,
        &PayloadExtras::default(),
    )
    .unwrap();
    demo::approve(&net, &users.alice, ORG, &req).unwrap();
    demo::approve(&net, &users.bob, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(300)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let raw = done["signed_transaction"].as_str().unwrap();

    // Broadcast; anvil mines it; the receipt says it succeeded.
    let hash = rpc.send_raw(raw).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let receipt = loop {
        if let Some(r) = rpc.receipt(&hash).unwrap() {
            break r;
        }
        assert!(Instant::now() < deadline, "{hash} not mined within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.gas_used, 21_000);
    assert!(receipt.effective_gas_price <= fees.max_fee_per_gas);

    // Exactly the amount arrived; the sender paid the amount and the fee; the nonce moved.
    assert_eq!(rpc.balance(demo::ETH_TO).unwrap(), to_before + amount);
    assert_eq!(
        rpc.balance(&from).unwrap(),
        funded - amount - receipt.fee_wei()
    );
    assert_eq!(rpc.nonce(&from).unwrap(), 1);
    eprintln!(
        "--> {hash}: 0.01 ETH moved in block {}, fee {} wei",
        receipt.block_number,
        receipt.fee_wei()
    );

    // The same signed transaction again is not a second payment.
    let again = rpc.send_raw(raw);
    assert!(again.is_err() || rpc.nonce(&from).unwrap() == 1);
    assert_eq!(rpc.balance(demo::ETH_TO).unwrap(), to_before + amount);

    solana_transfer_executes_on_litesvm(&net, &users, &wallets);
}

fn solana_transfer_executes_on_litesvm(
    net: &Net,
    users: &Users,
    wallets: &[(Chain, serde_json::Value)],
) {
    let mut svm = LiteSvm::start().unwrap();
    eprintln!("--> litesvm pid {}", svm.pid());
    let wallet = wallet_of(wallets, Chain::Solana);
    let from = wallet["address"].as_str().unwrap().to_string();
    let to = demo::sol_to();
    let funded = 1_000_000_000u64; // 1 SOL
    svm.airdrop(&from, funded).unwrap();
    assert_eq!(svm.balance(&from).unwrap(), funded);
    let to_before = svm.balance(&to).unwrap();

    // A transfer over the runtime's own blockhash; the network signs it after two approvals.
    let amount = 1_000_000u64; // 0.001 SOL (above the rent-exempt minimum of a new account)
    let blockhash = svm.blockhash().unwrap();
    let payload = mpc_cli::txbuild::sol_transfer(&from, &to, amount, &blockhash).unwrap();
    let req = demo::submit(
        net,
        users,
        ORG,
        wallet["wallet_id"].as_str().unwrap(),
        &payload,
        &PayloadExtras::default(),
    )
    .unwrap();
    demo::approve(net, &users.alice, ORG, &req).unwrap();
    demo::approve(net, &users.carol, ORG, &req).unwrap();
    let rid = req["request_id"].as_str().unwrap();
    let done = net.wait_request(rid, Duration::from_secs(120)).unwrap();
    assert_eq!(done["status"]["state"], "signed", "{done}");
    let signed = done["signed_transaction"].as_str().unwrap();

    // The runtime verifies the signature and executes the System transfer.
    let logs = svm.send(signed).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains("11111111111111111111111111111111 success")),
        "{logs:?}"
    );
    assert_eq!(svm.balance(&to).unwrap(), to_before + amount);
    assert_eq!(svm.balance(&from).unwrap(), funded - amount - 5_000);

    // The same transaction again is refused (already processed); nothing moves twice.
    assert!(svm.send(signed).is_err());
    assert_eq!(svm.balance(&to).unwrap(), to_before + amount);
    // A transaction whose signature is not the wallet's is refused by the runtime.
    use base64::Engine;
    let mut forged = base64::engine::general_purpose::STANDARD
        .decode(signed)
        .unwrap();
    forged[10] ^= 1;
    let forged = base64::engine::general_purpose::STANDARD.encode(forged);
    let e = svm.send(&forged).unwrap_err();
    eprintln!("--> a forged signature: {e}");
    assert_eq!(svm.balance(&from).unwrap(), funded - amount - 5_000);
}
