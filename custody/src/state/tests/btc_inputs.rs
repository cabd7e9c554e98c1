//! Bitcoin P2WPKH: every signature for an output commits to the amount the first reserved
//! request claimed for it (decision 0016) — the segwit fee attack needs two different claims.

use super::custody::{approve, org, setup, two_of_three, H};
use super::*;
use crate::RequestStatus;
use bitcoin::{absolute, transaction, Amount as Sat, OutPoint, ScriptBuf, Sequence, TxIn, TxOut};
use mpc_protocol::chain::{Amount, Chain, Network, PayloadExtras, SpentOutput};

const TO: &str = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";

struct Btc {
    wallet: crate::types::WalletId,
    script: ScriptBuf,
}

fn btc_wallet(h: &mut H) -> Btc {
    let out = h.ok(
        1,
        "wb",
        Action::WalletCreate {
            org_id: org(),
            vault_id: "v1".into(),
            chain: Chain::BitcoinP2wpkh,
            network: Network::Testnet,
            index: 0,
            chain_id: None,
        },
    );
    let ActionResult::WalletCreated { wallet } = out else {
        panic!("{out:?}")
    };
    let addr: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
        wallet.address.parse().unwrap();
    Btc {
        wallet: wallet.wallet_id,
        script: addr.assume_checked().script_pubkey(),
    }
}

/// Submits a spend of `utxo` (`claimed` sat, as the client says) sending 10,000 sat to `TO`
/// with 1,000 sat of fee and the rest back as change.
fn spend(h: &mut H, b: &Btc, utxo: &str, claimed: u64, idem: &str) -> crate::Request {
    let to: bitcoin::Address<bitcoin::address::NetworkUnchecked> = TO.parse().unwrap();
    let tx = bitcoin::Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: utxo.parse::<OutPoint>().unwrap(),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Default::default(),
        }],
        output: vec![
            TxOut {
                value: Sat::from_sat(10_000),
                script_pubkey: to.assume_checked().script_pubkey(),
            },
            TxOut {
                value: Sat::from_sat(claimed - 11_000),
                script_pubkey: b.script.clone(),
            },
        ],
    };
    let out = h.user(
        20,
        idem,
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: b.wallet.clone(),
            payload: hex::encode(bitcoin::consensus::serialize(&tx)),
            extras: PayloadExtras {
                spent_outputs: vec![SpentOutput {
                    amount: Amount(u128::from(claimed)),
                    script_pubkey: hex::encode(b.script.as_bytes()),
                }],
            },
        },
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    let Some(ActionResult::Request { request }) = out.result else {
        panic!()
    };
    *request
}

fn approved(h: &mut H, r: &crate::Request) -> crate::Request {
    approve(h, 11, r, &r.intent_digest);
    approve(h, 12, r, &r.intent_digest);
    h.request(&r.request_id)
}

fn rejected_for_input(r: &crate::Request) {
    assert!(
        matches!(&r.status, RequestStatus::Rejected { reason } if reason.contains("was reserved by")),
        "{:?}",
        r.status
    );
}

#[test]
fn every_signature_for_an_output_commits_to_one_amount() {
    let (mut h, _, _) = setup(two_of_three());
    let b = btc_wallet(&mut h);
    let x = format!("{}:0", "ab".repeat(32));
    // The first reserved spend of X fixes its amount.
    let r1 = spend(&mut h, &b, &x, 100_000, "r1");
    let r1 = approved(&mut h, &r1);
    assert_eq!(r1.status, RequestStatus::Signing);
    assert_eq!(r1.intent.fee.0, 1_000);
    let me = r1.attempts[0].signers[0];
    assert!(h.s.signing_job(&r1.request_id, me).is_ok());
    // Another claim for X (here a smaller one, hiding a bigger fee in a second signature):
    // rejected at submission. The same claim again (a re-sign) is fine.
    rejected_for_input(&spend(&mut h, &b, &x, 60_000, "r2"));
    assert_eq!(
        spend(&mut h, &b, &x, 100_000, "r3").status,
        RequestStatus::Pending
    );
    // Two pending requests with different claims for Y: the first reserved wins, the other is
    // rejected when its approvals complete.
    let y = format!("{}:1", "cd".repeat(32));
    let a = spend(&mut h, &b, &y, 50_000, "a");
    let c = spend(&mut h, &b, &y, 70_000, "c");
    assert_eq!(approved(&mut h, &a).status, RequestStatus::Signing);
    rejected_for_input(&approved(&mut h, &c));
    // A node whose state lost or changed X's fixed amount gets no signing job.
    let mut forged = h.s.clone();
    forged.btc_inputs.clear();
    let e = forged.signing_job(&r1.request_id, me).unwrap_err();
    assert!(e.contains("never reserved"), "{e}");
    let mut forged = h.s.clone();
    forged.btc_inputs.get_mut(&x).unwrap().amount = Amount(60_000);
    let e = forged.signing_job(&r1.request_id, me).unwrap_err();
    assert!(e.contains("is fixed at"), "{e}");
}
