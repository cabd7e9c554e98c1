//! Networks do not leak into each other: testnet wallets have keys distinct from mainnet ones
//! (and Ethereum testnet keys from Bitcoin testnet keys), every Ethereum wallet signs for one
//! explicit chain id, and the address book is per network.

use super::custody::{org, setup, two_of_three, H};
use super::*;
use crate::{RequestStatus, Wallet};
use mpc_protocol::chain::{Chain, Network};

/// An unsigned EIP-1559 transfer of 1000 wei to 0xdd…dd on `chain_id`.
fn eth_payload(chain_id: u64) -> String {
    let id = chain_id.to_be_bytes();
    let id: Vec<u8> = id.iter().copied().skip_while(|b| *b == 0).collect();
    let id_rlp: Vec<u8> = if id.len() == 1 && id[0] < 0x80 {
        id
    } else {
        std::iter::once(0x80 + id.len() as u8).chain(id).collect()
    };
    let mut body = id_rlp;
    body.extend_from_slice(&[0x80, 0x01, 0x02, 0x82, 0x52, 0x08, 0x94]);
    body.extend_from_slice(&[0xdd; 20]);
    body.extend_from_slice(&[0x82, 0x03, 0xe8, 0x80, 0xc0]);
    let mut p = vec![0x02, 0xc0 + body.len() as u8];
    p.extend(body);
    hex::encode(p)
}

fn wallet(
    h: &mut H,
    chain: Chain,
    network: Network,
    index: u32,
    chain_id: Option<u64>,
) -> CommandOutcome {
    h.user(
        1,
        &format!("w-{chain}-{network:?}-{index}-{chain_id:?}"),
        Action::WalletCreate {
            org_id: org(),
            vault_id: "v1".into(),
            chain,
            network,
            index,
            chain_id,
        },
    )
}

fn created(out: CommandOutcome) -> Wallet {
    match out.result {
        Some(ActionResult::WalletCreated { wallet }) => wallet,
        other => panic!("{other:?} {:?}", out.error),
    }
}

fn submit_eth(h: &mut H, w: &Wallet, chain_id: u64) -> CommandOutcome {
    h.user(
        20,
        &format!("s-{}-{chain_id}", w.wallet_id),
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: w.wallet_id.clone(),
            payload: eth_payload(chain_id),
            extras: Default::default(),
        },
    )
}

#[test]
fn testnet_wallets_have_their_own_keys_and_one_chain_id() {
    let (mut h, _, _) = setup(two_of_three());
    let main = created(wallet(&mut h, Chain::Ethereum, Network::Mainnet, 0, None));
    let sepolia = created(wallet(&mut h, Chain::Ethereum, Network::Testnet, 0, None));
    let goerli = created(wallet(
        &mut h,
        Chain::Ethereum,
        Network::Testnet,
        1,
        Some(5),
    ));
    let btc_test = created(wallet(
        &mut h,
        Chain::BitcoinP2wpkh,
        Network::Testnet,
        0,
        None,
    ));
    assert_eq!(main.chain_id, Some(1));
    assert_eq!(sepolia.chain_id, Some(11_155_111));
    assert_eq!(goerli.chain_id, Some(5));
    assert_eq!(btc_test.chain_id, None);
    // Distinct keys: mainnet vs testnet, Ethereum testnet vs Bitcoin testnet.
    assert_ne!(main.public_key, sepolia.public_key);
    assert_ne!(sepolia.public_key, btc_test.public_key);
    // No mainnet wallet for another chain id, no testnet wallet for chain id 1.
    let e = wallet(&mut h, Chain::Ethereum, Network::Mainnet, 1, Some(5))
        .error
        .unwrap();
    assert!(e.contains("chain id 1"), "{e}");
    let e = wallet(&mut h, Chain::Ethereum, Network::Testnet, 2, Some(1))
        .error
        .unwrap();
    assert!(e.contains("chain id 0 or 1"), "{e}");
    let e = wallet(&mut h, Chain::Solana, Network::Testnet, 3, Some(5))
        .error
        .unwrap();
    assert!(e.contains("only Ethereum"), "{e}");
    // A testnet wallet signs neither chain id 1 nor another test network's id.
    let e = submit_eth(&mut h, &sepolia, 1).error.unwrap();
    assert!(e.contains("chain id 1"), "{e}");
    let e = submit_eth(&mut h, &sepolia, 5).error.unwrap();
    assert!(e.contains("signs only for chain id 11155111"), "{e}");
    let e = submit_eth(&mut h, &goerli, 11_155_111).error.unwrap();
    assert!(e.contains("signs only for chain id 5"), "{e}");
    assert!(submit_eth(&mut h, &sepolia, 11_155_111).error.is_none());
    assert!(submit_eth(&mut h, &goerli, 5).error.is_none());
    assert!(submit_eth(&mut h, &main, 1).error.is_none());
}

#[test]
fn the_address_book_is_per_network() {
    let mut rules = two_of_three();
    rules.whitelist_required = true;
    let (mut h, _, _) = setup(rules);
    let main = created(wallet(&mut h, Chain::Ethereum, Network::Mainnet, 0, None));
    let sepolia = created(wallet(&mut h, Chain::Ethereum, Network::Testnet, 0, None));
    h.ok(
        1,
        "ab",
        Action::AddressBookAdd {
            org_id: org(),
            chain: Chain::Ethereum,
            network: Network::Testnet,
            address: format!("0x{}", "dd".repeat(20)),
            label: "test faucet".into(),
        },
    );
    let status = |out: CommandOutcome| match out.result {
        Some(ActionResult::Request { request }) => request.status,
        other => panic!("{other:?} {:?}", out.error),
    };
    assert_eq!(
        status(submit_eth(&mut h, &sepolia, 11_155_111)),
        RequestStatus::Pending
    );
    // The same address on mainnet is not whitelisted by the testnet entry.
    assert!(matches!(
        status(submit_eth(&mut h, &main, 1)),
        RequestStatus::Rejected { reason } if reason.contains("address book")
    ));
}
