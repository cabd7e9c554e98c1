//! Signed transactions on real chain software (issue 12): funds actually move.
//!
//! Ethereum: a local `anvil` (installed from npm by `testnet/ensure-chains.sh`, started and
//! stopped by PID). The network signs an EIP-1559 transfer built from what the chain says
//! (nonce, fee history, gas estimate) through the `mpc-chains` adapter; anvil executes it, and
//! the balances move by exactly the amount and the fee.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
use mpc_protocol::chain::{Chain, PayloadExtras};
use mpc_testnet::chains::Anvil;
use mpc_testnet::demo::{self, Net, Users};
use mpc_testnet::Cluster;
use std::time::{Duration, Instant};

const ORG: &str = "chains";
const VAULT: &str = "chains-vault";

#[test]
fn an_approved_ethereum_transfer_moves_funds_on_anvil() {
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
    let wallet = wallets
        .iter()
        .find(|(chain, _)| *chain == Chain::Ethereum)
        .unwrap()
        .1
        .clone();
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
}
