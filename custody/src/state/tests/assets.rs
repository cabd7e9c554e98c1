//! The asset registry: a token transfer is named by the organisation's governed registry, its
//! limits count token units (the fee counts in ETH), and a signer refuses a registry entry
//! without the admins' adoption.

use super::custody::{approve, org, setup, two_of_three, H};
use crate::command::Action;
use crate::state::ActionResult;
use crate::{LimitAction, RequestStatus, SpendLimit};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, U256};
use mpc_protocol::chain::{eth, Amount, Chain, Network};

const CONTRACT: [u8; 20] = [0x22; 20];

/// An unsigned EIP-1559 call of the test contract with `input`, hex.
fn contract_call(nonce: u64, input: Vec<u8>) -> String {
    let tx = TxEip1559 {
        chain_id: crate::DEFAULT_ETH_TESTNET_CHAIN_ID,
        nonce,
        gas_limit: 60_000,
        max_fee_per_gas: 1_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::from(CONTRACT)),
        value: U256::ZERO,
        input: input.into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    tx.encode_for_signing(&mut out);
    hex::encode(out)
}

fn token_payload(nonce: u64, units: u128) -> String {
    contract_call(
        nonce,
        eth::erc20_transfer_calldata(&Address::repeat_byte(0x33), units),
    )
}

fn eth_wallet(h: &mut H) -> String {
    let ActionResult::WalletCreated { wallet } = h.ok(
        1,
        "weth",
        Action::WalletCreate {
            org_id: org(),
            vault_id: "v1".into(),
            chain: Chain::Ethereum,
            network: Network::Testnet,
            index: 0,
            chain_id: None,
        },
    ) else {
        panic!()
    };
    wallet.wallet_id.0
}

fn submit(
    h: &mut H,
    wallet: &str,
    idem: &str,
    nonce: u64,
    units: u128,
) -> crate::state::CommandOutcome {
    h.user(
        20,
        idem,
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: wallet.into(),
            payload: token_payload(nonce, units),
            extras: Default::default(),
        },
    )
}

fn request_of(out: crate::state::CommandOutcome) -> crate::Request {
    assert!(out.error.is_none(), "{:?}", out.error);
    let Some(ActionResult::Request { request }) = out.result else {
        panic!()
    };
    *request
}

fn add_tusd() -> Action {
    Action::AssetAdd {
        org_id: org(),
        symbol: "TUSD".into(),
        chain: Chain::Ethereum,
        network: Network::Testnet,
        contract: Address::from(CONTRACT).to_checksum(None),
        decimals: 6,
    }
}

#[test]
fn token_transfers_are_named_by_the_registry_and_limited_in_token_units() {
    let mut rules = two_of_three();
    rules.limits = vec![SpendLimit {
        asset: "TUSD".into(),
        window_secs: 86_400,
        max_amount: Amount(1_000_000), // 1 TUSD
        action: LimitAction::Reject,
    }];
    let (mut h, _, _) = setup(rules);
    let wallet = eth_wallet(&mut h);

    // Not in the registry: refused at submission.
    let e = submit(&mut h, &wallet, "t0", 0, 600_000).error.unwrap();
    assert!(e.contains("asset registry"), "{e}");
    // A bad symbol, or a native one, is refused.
    for bad in ["tusd", "ETH", "1INCH", "WAY-TOO-LONG-SYMBOL"] {
        let mut a = add_tusd();
        if let Action::AssetAdd { symbol, .. } = &mut a {
            *symbol = bad.into();
        }
        assert!(h.user(1, &format!("bad-{bad}"), a).error.is_some(), "{bad}");
    }
    h.ok(1, "asset", add_tusd());
    // The same contract twice is refused.
    let mut again = add_tusd();
    if let Action::AssetAdd { symbol, .. } = &mut again {
        *symbol = "TUSD2".into();
    }
    assert!(h
        .user(1, "asset2", again)
        .error
        .unwrap()
        .contains("already registered"));

    let req = request_of(submit(&mut h, &wallet, "t1", 0, 600_000));
    assert_eq!(req.intent.asset, "TUSD");
    assert_eq!(req.intent.token.as_ref().unwrap().decimals, 6);
    assert_eq!(req.intent.spend_in("TUSD"), 600_000);
    assert_eq!(
        req.intent.spend_in("ETH"),
        60_000 * 1_000_000_000,
        "the fee, in ETH"
    );
    let d = req.intent_digest.clone();
    assert!(approve(&mut h, 11, &req, &d).error.is_none());
    assert!(approve(&mut h, 12, &req, &d).error.is_none());
    let req = h.request(&req.request_id);
    assert_eq!(req.status, RequestStatus::Signing);
    let signer = req.attempts[0].signers[0];
    assert!(h.s.signing_job(&req.request_id, signer).is_ok());

    // A second 0.6 TUSD within the day exceeds the 1 TUSD limit: rejected.
    let second = request_of(submit(&mut h, &wallet, "t2", 1, 600_000));
    let d2 = second.intent_digest.clone();
    approve(&mut h, 11, &second, &d2);
    approve(&mut h, 12, &second, &d2);
    let second = h.request(&second.request_id);
    match &second.status {
        RequestStatus::Rejected { reason } => assert!(reason.contains("TUSD"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // A registry entry without the admins' adoption (written by a compromised node): the
    // signer refuses.
    let key = (org(), "TUSD".to_string());
    let adopted = h.s.assets.get(&key).unwrap().clone();
    h.s.assets.get_mut(&key).unwrap().adoption = None;
    let e = h.s.signing_job(&req.request_id, signer).unwrap_err();
    assert!(e.contains("adoption"), "{e}");
    // Other decimals than the adopted ones: refused too.
    let mut changed = adopted.clone();
    changed.decimals = 18;
    h.s.assets.insert(key.clone(), changed);
    assert!(h.s.signing_job(&req.request_id, signer).is_err());
    h.s.assets.insert(key, adopted);
    assert!(h.s.signing_job(&req.request_id, signer).is_ok());
}

#[test]
fn spl_transfers_must_carry_the_registry_decimals() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let pk: [u8; 32] = pk.try_into().unwrap();
    let mint = [4u8; 32];
    let submit_spl = |h: &mut H, idem: &str, decimals: u8| {
        let m = mpc_protocol::chain::sol::token_transfer_message(
            &pk, &[8u8; 32], &mint, 1_000, decimals, &[9u8; 32], None,
        )
        .unwrap();
        h.user(
            20,
            idem,
            Action::RequestSubmit {
                org_id: org(),
                wallet_id: wallet.clone(),
                payload: hex::encode(m),
                extras: Default::default(),
            },
        )
    };
    assert!(submit_spl(&mut h, "s0", 6)
        .error
        .unwrap()
        .contains("asset registry"));
    h.ok(
        1,
        "susd",
        Action::AssetAdd {
            org_id: org(),
            symbol: "SUSD".into(),
            chain: Chain::Solana,
            network: Network::Testnet,
            contract: bs58::encode(mint).into_string(),
            decimals: 6,
        },
    );
    let e = submit_spl(&mut h, "s1", 9).error.unwrap();
    assert!(e.contains("decimals"), "{e}");
    let req = request_of(submit_spl(&mut h, "s2", 6));
    assert_eq!(req.intent.asset, "SUSD");
    // The fee counts the rent of the recipient's token account the transfer may create.
    assert_eq!(
        req.intent.spend_in("SOL"),
        5_000 + mpc_protocol::chain::sol::TOKEN_ACCOUNT_RENT
    );
}

#[test]
fn other_contract_calls_need_the_policy_to_allow_them() {
    let (mut h, _, _) = setup(two_of_three());
    let wallet = eth_wallet(&mut h);
    // approve(0x33…, 5) on the contract: not a transfer.
    let mut call = eth::erc20_transfer_calldata(&Address::repeat_byte(0x33), 5);
    call[..4].copy_from_slice(&[0x09, 0x5e, 0xa7, 0xb3]);
    let submit_call = |h: &mut H, idem: &str| {
        h.user(
            20,
            idem,
            Action::RequestSubmit {
                org_id: org(),
                wallet_id: wallet.as_str().into(),
                payload: contract_call(0, call.clone()),
                extras: Default::default(),
            },
        )
    };
    let e = submit_call(&mut h, "c0").error.unwrap();
    assert!(e.contains("not allowed by the vault's policy"), "{e}");
    // The admins allow approve() on that one contract: the call is taken, shown as what it is.
    let mut rules = two_of_three();
    rules.allowed_calls = vec![crate::policy::AllowedCall {
        contract: Address::from(CONTRACT).to_checksum(None).to_lowercase(),
        selector: "095EA7B3".into(),
    }];
    h.ok(
        1,
        "pol-calls",
        Action::PolicySet {
            org_id: org(),
            vault_id: "v1".into(),
            rules,
        },
    );
    let req = request_of(submit_call(&mut h, "c1"));
    assert_eq!(req.intent.details["call_selector"], "095ea7b3");
    assert!(req.intent.token.is_none());
    let d = req.intent_digest.clone();
    approve(&mut h, 11, &req, &d);
    approve(&mut h, 12, &req, &d);
    let req = h.request(&req.request_id);
    assert_eq!(req.status, RequestStatus::Signing);
    let signer = req.attempts[0].signers[0];
    assert!(h.s.signing_job(&req.request_id, signer).is_ok());
}
