//! Chain-format tests with single-party keys (the threshold part is tested elsewhere): parse,
//! sign, assemble, then check the result with each ecosystem's own code.

use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{Address, TxKind, U256};
use k256::ecdsa::SigningKey;

fn eth_wallet(sk: &SigningKey, network: Network) -> WalletKey {
    let pk = sk.verifying_key().to_sec1_bytes().to_vec();
    WalletKey {
        chain: Chain::Ethereum,
        network,
        address: eth::address(&pk).unwrap(),
        public_key: pk,
    }
}

fn ecdsa_sign(sk: &SigningKey, m: &ToSign) -> Vec<u8> {
    use k256::ecdsa::signature::hazmat::PrehashSigner;
    let ToSign::Ecdsa(d) = m else {
        panic!("not ecdsa")
    };
    let s: k256::ecdsa::Signature = sk.sign_prehash(&d.bytes()).unwrap();
    s.normalize_s().unwrap_or(s).to_bytes().to_vec()
}

fn eip1559(chain_id: u64, input: &[u8]) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce: 7,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x11)),
        value: U256::from(1_000_000_000_000_000u64),
        input: input.to_vec().into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    tx.encode_for_signing(&mut out);
    out
}

#[test]
fn ethereum_eip1559_parse_sign_recover() {
    let sk = SigningKey::from_slice(&[3u8; 32]).unwrap();
    let w = eth_wallet(&sk, Network::Testnet);
    let payload = eip1559(11_155_111, &[]);
    let p = parse(&w, &payload, &PayloadExtras::default()).unwrap();
    assert_eq!(p.intent.amount, Amount(1_000_000_000_000_000));
    assert_eq!(
        p.intent.transfers[0].to,
        Address::repeat_byte(0x11).to_checksum(None)
    );
    assert_eq!(p.intent.fee, Amount(21_000 * 30_000_000_000));
    let sig = ecdsa_sign(&sk, &p.to_sign[0]);
    let raw = assemble(&w, &payload, &PayloadExtras::default(), &[sig]).unwrap();
    let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap();
    let env = <alloy_consensus::TxEnvelope as alloy_eips_decode::Decodable2718>::decode_2718(
        &mut bytes.as_slice(),
    )
    .unwrap();
    let signer = env.as_eip1559().unwrap().recover_signer().unwrap();
    assert_eq!(signer.to_checksum(None), w.address);
}

use alloy_consensus::private::alloy_eips as alloy_eips_decode;

#[test]
fn ethereum_legacy_eip155_round_trip() {
    let sk = SigningKey::from_slice(&[4u8; 32]).unwrap();
    let w = eth_wallet(&sk, Network::Mainnet);
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce: 1,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x22)),
        value: U256::from(5u64),
        input: Default::default(),
    };
    let mut payload = Vec::new();
    tx.encode_for_signing(&mut payload);
    let p = parse(&w, &payload, &PayloadExtras::default()).unwrap();
    let sig = ecdsa_sign(&sk, &p.to_sign[0]);
    let raw = assemble(&w, &payload, &PayloadExtras::default(), &[sig]).unwrap();
    let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap();
    let env = <alloy_consensus::TxEnvelope as alloy_eips_decode::Decodable2718>::decode_2718(
        &mut bytes.as_slice(),
    )
    .unwrap();
    assert_eq!(
        env.as_legacy()
            .unwrap()
            .recover_signer()
            .unwrap()
            .to_checksum(None),
        w.address
    );
}

#[test]
fn ethereum_refusals() {
    let sk = SigningKey::from_slice(&[3u8; 32]).unwrap();
    let test = eth_wallet(&sk, Network::Testnet);
    let main = eth_wallet(&sk, Network::Mainnet);
    let x = PayloadExtras::default();
    let mut trailing = eip1559(5, &[]);
    trailing.push(0);
    let cases: Vec<(&str, &WalletKey, Vec<u8>, &str)> = vec![
        ("calldata", &test, eip1559(5, &[1, 2]), "calldata"),
        (
            "mainnet id on test wallet",
            &test,
            eip1559(1, &[]),
            "mainnet",
        ),
        (
            "test id on main wallet",
            &main,
            eip1559(5, &[]),
            "not Ethereum mainnet",
        ),
        ("trailing", &test, trailing, "trailing"),
        ("garbage", &test, vec![0x02, 0xff, 0x00], "RLP"),
        ("type 3", &test, vec![0x03, 0xc0], "not supported"),
        ("empty", &test, vec![], "payload must be"),
    ];
    for (name, w, payload, want) in cases {
        let e = parse(w, &payload, &x).unwrap_err().to_string();
        assert!(e.contains(want), "{name}: {e}");
    }
    // A valid signature by another key is refused at assembly.
    let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let payload = eip1559(5, &[]);
    let p = parse(&test, &payload, &x).unwrap();
    let sig = ecdsa_sign(&other, &p.to_sign[0]);
    assert!(assemble(&test, &payload, &x, &[sig]).is_err());
}

fn btc_tx(prev_vout: u32, outputs: Vec<bitcoin::TxOut>) -> bitcoin::Transaction {
    bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint {
                txid: "0101010101010101010101010101010101010101010101010101010101010101"
                    .parse()
                    .unwrap(),
                vout: prev_vout,
            },
            script_sig: bitcoin::ScriptBuf::new(),
            sequence: bitcoin::Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: bitcoin::Witness::new(),
        }],
        output: outputs,
    }
}

#[test]
fn bitcoin_p2wpkh_and_p2tr_verify_with_rust_bitcoin() {
    use bitcoin::secp256k1::{Keypair, Message, Secp256k1};
    let secp = Secp256k1::new();
    let sk = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let pk = sk.verifying_key().to_sec1_bytes().to_vec();
    let wpkh = WalletKey {
        chain: Chain::BitcoinP2wpkh,
        network: Network::Testnet,
        address: btc::p2wpkh_address(&pk, Network::Testnet).unwrap(),
        public_key: pk,
    };
    let kp = Keypair::from_seckey_slice(&secp, &[6u8; 32]).unwrap();
    let (x, _) = kp.x_only_public_key();
    let tr = WalletKey {
        chain: Chain::BitcoinP2tr,
        network: Network::Testnet,
        address: btc::p2tr_address(&x.serialize(), Network::Testnet).unwrap(),
        public_key: x.serialize().to_vec(),
    };
    let dest: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
        "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
            .parse()
            .unwrap();
    let dest = dest.assume_checked();
    for w in [&wpkh, &tr] {
        let own: bitcoin::Address<bitcoin::address::NetworkUnchecked> = w.address.parse().unwrap();
        let own = own.assume_checked().script_pubkey();
        let tx = btc_tx(
            0,
            vec![
                bitcoin::TxOut {
                    value: bitcoin::Amount::from_sat(60_000),
                    script_pubkey: dest.script_pubkey(),
                },
                bitcoin::TxOut {
                    value: bitcoin::Amount::from_sat(39_000),
                    script_pubkey: own.clone(),
                },
            ],
        );
        let payload = bitcoin::consensus::serialize(&tx);
        let extras = PayloadExtras {
            spent_outputs: vec![SpentOutput {
                amount: Amount(100_000),
                script_pubkey: hex::encode(own.as_bytes()),
            }],
        };
        let p = parse(w, &payload, &extras).unwrap();
        assert_eq!(p.intent.amount, Amount(60_000));
        assert_eq!(p.intent.fee, Amount(1_000));
        assert_eq!(p.intent.transfers[0].to, dest.to_string());
        let sig = match &p.to_sign[0] {
            ToSign::Ecdsa(_) => ecdsa_sign(&sk, &p.to_sign[0]),
            ToSign::Schnorr(m) => secp
                .sign_schnorr_no_aux_rand(&Message::from_digest(*m), &kp)
                .serialize()
                .to_vec(),
            ToSign::Ed25519(_) => unreachable!(),
        };
        let signed = assemble(w, &payload, &extras, &[sig]).unwrap();
        let signed: bitcoin::Transaction =
            bitcoin::consensus::deserialize(&hex::decode(signed).unwrap()).unwrap();
        // rust-bitcoin's own check of the witness against the spent output.
        let prev = bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(100_000),
            script_pubkey: own.clone(),
        };
        // Check the witness against the spent output with rust-bitcoin's sighash code and the
        // secp256k1 library (independent of the parser's own sighash computation above).
        let wit = &signed.input[0].witness;
        let mut cache = bitcoin::sighash::SighashCache::new(&signed);
        if w.chain == Chain::BitcoinP2wpkh {
            let s = bitcoin::ecdsa::Signature::from_slice(wit.nth(0).unwrap()).unwrap();
            let pkey = bitcoin::PublicKey::from_slice(wit.nth(1).unwrap()).unwrap();
            let h = cache
                .p2wpkh_signature_hash(0, &own, prev.value, s.sighash_type)
                .unwrap();
            secp.verify_ecdsa(&Message::from(h), &s.signature, &pkey.inner)
        } else {
            let s = bitcoin::taproot::Signature::from_slice(wit.nth(0).unwrap()).unwrap();
            let h = cache
                .taproot_key_spend_signature_hash(
                    0,
                    &bitcoin::sighash::Prevouts::All(std::slice::from_ref(&prev)),
                    s.sighash_type,
                )
                .unwrap();
            secp.verify_schnorr(&s.signature, &Message::from(h), &x)
        }
        .unwrap();
    }
}

#[test]
fn bitcoin_refuses_foreign_inputs_and_overspend() {
    let sk = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let pk = sk.verifying_key().to_sec1_bytes().to_vec();
    let w = WalletKey {
        chain: Chain::BitcoinP2wpkh,
        network: Network::Testnet,
        address: btc::p2wpkh_address(&pk, Network::Testnet).unwrap(),
        public_key: pk,
    };
    let own: bitcoin::Address<bitcoin::address::NetworkUnchecked> = w.address.parse().unwrap();
    let own = own.assume_checked().script_pubkey();
    let tx = btc_tx(
        0,
        vec![bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(200_000),
            script_pubkey: own.clone(),
        }],
    );
    let payload = bitcoin::consensus::serialize(&tx);
    let over = PayloadExtras {
        spent_outputs: vec![SpentOutput {
            amount: Amount(100_000),
            script_pubkey: hex::encode(own.as_bytes()),
        }],
    };
    assert!(parse(&w, &payload, &over)
        .unwrap_err()
        .to_string()
        .contains("exceed"));
    let foreign = PayloadExtras {
        spent_outputs: vec![SpentOutput {
            amount: Amount(300_000),
            script_pubkey: "0014".to_string() + &"00".repeat(20),
        }],
    };
    assert!(parse(&w, &payload, &foreign)
        .unwrap_err()
        .to_string()
        .contains("does not belong"));
    assert!(parse(&w, &payload, &PayloadExtras::default())
        .unwrap_err()
        .to_string()
        .contains("spent outputs"));
}

fn sol_message(payer: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
    let mut m = vec![1, 0, 1, 3];
    m.extend_from_slice(payer);
    m.extend_from_slice(to);
    m.extend_from_slice(&[0u8; 32]);
    m.extend_from_slice(&[9u8; 32]); // blockhash
    m.push(1);
    m.push(2); // program index
    m.extend_from_slice(&[2, 0, 1]);
    m.push(12);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&lamports.to_le_bytes());
    m
}

#[test]
fn solana_transfer_verifies_with_dalek() {
    use ed25519_dalek::Signer;
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let pk = sk.verifying_key().to_bytes();
    let w = WalletKey {
        chain: Chain::Solana,
        network: Network::Testnet,
        address: sol::address(&pk).unwrap(),
        public_key: pk.to_vec(),
    };
    let to = [8u8; 32];
    let msg = sol_message(&pk, &to, 1_500_000);
    let p = parse(&w, &msg, &PayloadExtras::default()).unwrap();
    assert_eq!(p.intent.amount, Amount(1_500_000));
    assert_eq!(p.intent.transfers[0].to, bs58::encode(to).into_string());
    let sig = sk.sign(&msg).to_bytes().to_vec();
    let b64 = assemble(&w, &msg, &PayloadExtras::default(), &[sig]).unwrap();
    use base64::Engine;
    let tx = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(tx[0], 1);
    let s = ed25519_dalek::Signature::from_slice(&tx[1..65]).unwrap();
    sk.verifying_key().verify_strict(&tx[65..], &s).unwrap();
    // Another fee payer, a non-transfer instruction and trailing bytes are refused.
    let other = sol_message(&[1u8; 32], &to, 1);
    assert!(parse(&w, &other, &PayloadExtras::default()).is_err());
    let mut bad = msg.clone();
    let n = bad.len();
    bad[n - 12] = 3;
    assert!(parse(&w, &bad, &PayloadExtras::default())
        .unwrap_err()
        .to_string()
        .contains("not a System transfer"));
    let mut trailing = msg;
    trailing.push(0);
    assert!(parse(&w, &trailing, &PayloadExtras::default()).is_err());
}

#[test]
fn wallet_derivation_is_deterministic_and_distinct() {
    let ecdsa = k256::SecretKey::from_slice(&[1u8; 32])
        .unwrap()
        .public_key();
    let ed = ed25519_dalek::SigningKey::from_bytes(&[2u8; 32]).verifying_key();
    let tr = k256::SecretKey::from_slice(&[3u8; 32])
        .unwrap()
        .public_key();
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let keys = keys::VaultPublicKeys {
        ecdsa_public_key: hex::encode(ecdsa.to_encoded_point(true).as_bytes()),
        ecdsa_chain_code: hex::encode([4u8; 32]),
        ed25519_public_key: hex::encode(ed.to_bytes()),
        secp256k1_tr_public_key: hex::encode(tr.to_encoded_point(true).as_bytes()),
    };
    let mut seen = std::collections::BTreeSet::new();
    for chain in [
        Chain::Ethereum,
        Chain::BitcoinP2wpkh,
        Chain::BitcoinP2tr,
        Chain::Solana,
    ] {
        for net in [Network::Mainnet, Network::Testnet] {
            for i in 0..2 {
                let a = keys::wallet_key(&keys, chain, net, i).unwrap();
                assert_eq!(a, keys::wallet_key(&keys, chain, net, i).unwrap());
                // An EVM address is the same on every chain id (the transaction names the chain).
                if !(chain == Chain::Ethereum && net == Network::Testnet) {
                    assert!(seen.insert(a.address.clone()), "duplicate {}", a.address);
                }
            }
        }
    }
    let eth = keys::wallet_key(&keys, Chain::Ethereum, Network::Mainnet, 0).unwrap();
    assert!(eth.address.starts_with("0x") && eth.address.len() == 42);
    let btc = keys::wallet_key(&keys, Chain::BitcoinP2wpkh, Network::Mainnet, 0).unwrap();
    assert!(btc.address.starts_with("bc1q"));
    let tr = keys::wallet_key(&keys, Chain::BitcoinP2tr, Network::Testnet, 0).unwrap();
    assert!(tr.address.starts_with("tb1p"));
}

#[test]
fn txids_are_the_chains_own() {
    // Bitcoin: the genesis block's coinbase has the well-known txid.
    let coinbase = &bitcoin::constants::genesis_block(bitcoin::Network::Bitcoin).txdata[0];
    let hex_tx = bitcoin::consensus::encode::serialize_hex(coinbase);
    assert_eq!(
        super::txid(Chain::BitcoinP2wpkh, &hex_tx).unwrap(),
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    );
    // Solana: the base58 of the first signature.
    use base64::Engine as _;
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[7u8; 64]);
    tx.extend_from_slice(&[0u8; 40]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&tx);
    assert_eq!(
        super::txid(Chain::Solana, &b64).unwrap(),
        bs58::encode([7u8; 64]).into_string()
    );
    assert!(super::txid(Chain::Solana, "AA==").is_err());
    // Ethereum: Keccak-256 of the raw bytes (checked against anvil's hashes in
    // testnet/tests/chains.rs).
    assert_eq!(
        super::txid(Chain::Ethereum, "0x").unwrap(),
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    assert!(super::txid(Chain::Ethereum, "0xzz").is_err());
}

/// A Solana test-network wallet of a single-party key: its public key and wallet key.
fn sol_test_wallet() -> ([u8; 32], WalletKey) {
    let pk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
        .verifying_key()
        .to_bytes();
    let w = WalletKey {
        chain: Chain::Solana,
        network: Network::Testnet,
        address: sol::address(&pk).unwrap(),
        public_key: pk.to_vec(),
    };
    (pk, w)
}

#[test]
fn solana_durable_nonce_transfers_parse_and_are_checked() {
    let (pk, w) = sol_test_wallet();
    let (to, nonce_acct, nonce) = ([8u8; 32], [5u8; 32], [6u8; 32]);
    let msg = sol::transfer_message(&pk, &to, 2_000, &nonce, Some(&nonce_acct));
    let p = parse(&w, &msg, &PayloadExtras::default()).unwrap();
    assert_eq!(p.intent.amount, Amount(2_000));
    assert_eq!(p.intent.transfers.len(), 1);
    assert_eq!(p.intent.transfers[0].to, bs58::encode(to).into_string());
    let d = &p.intent.details;
    assert_eq!(
        d["durable_nonce_account"],
        bs58::encode(nonce_acct).into_string()
    );
    assert_eq!(d["durable_nonce"], bs58::encode(nonce).into_string());
    assert!(!d.contains_key("recent_blockhash"));
    // The same message over a recent blockhash says so.
    let plain = sol::transfer_message(&pk, &to, 2_000, &[9u8; 32], None);
    assert_eq!(plain, sol_message(&pk, &to, 2_000));
    let p = parse(&w, &plain, &PayloadExtras::default()).unwrap();
    assert!(p.intent.details.contains_key("recent_blockhash"));
    // Another authority than the wallet (account index 2 = the destination) is refused.
    let mut other_authority = msg.clone();
    let ix0 = 4 + 6 * 32 + 1; // header, keys, blockhash, instruction count
    assert_eq!(&other_authority[ix0..ix0 + 5], &[4, 3, 1, 3, 0]);
    other_authority[ix0 + 4] = 2;
    assert!(parse(&w, &other_authority, &PayloadExtras::default())
        .unwrap_err()
        .to_string()
        .contains("authority"));
    // A wrong sysvar (the destination's index) is refused.
    let mut wrong_sysvar = msg.clone();
    wrong_sysvar[ix0 + 3] = 2;
    assert!(parse(&w, &wrong_sysvar, &PayloadExtras::default())
        .unwrap_err()
        .to_string()
        .contains("sysvar"));
    // A nonce advance alone moves nothing and is refused.
    let mut alone = msg[..ix0].to_vec();
    alone[ix0 - 1] = 1;
    alone.extend_from_slice(&msg[ix0..ix0 + 10]);
    assert!(parse(&w, &alone, &PayloadExtras::default())
        .unwrap_err()
        .to_string()
        .contains("no transfer"));
}

fn eip1559_token(value: u64, input: &[u8]) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: 11_155_111,
        nonce: 2,
        gas_limit: 60_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x22)),
        value: U256::from(value),
        input: input.to_vec().into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    tx.encode_for_signing(&mut out);
    out
}

#[test]
fn erc20_transfers_are_read_from_the_calldata_and_other_calls_shown_as_calls() {
    let sk = SigningKey::from_slice(&[3u8; 32]).unwrap();
    let w = eth_wallet(&sk, Network::Testnet);
    let recipient = Address::repeat_byte(0x33);
    let call = eth::erc20_transfer_calldata(&recipient, 2_500_000);
    let p = parse(&w, &eip1559_token(0, &call), &PayloadExtras::default()).unwrap();
    let token = p.intent.token.clone().expect("a token transfer");
    assert_eq!(token.standard, TokenStandard::Erc20);
    assert_eq!(token.contract, Address::repeat_byte(0x22).to_checksum(None));
    // The recipient and amount are the calldata's, not the called contract and the ETH value.
    assert_eq!(p.intent.transfers[0].to, recipient.to_checksum(None));
    assert_eq!(p.intent.amount, Amount(2_500_000));
    assert_eq!(p.intent.fee, Amount(60_000 * 30_000_000_000));
    assert_eq!(p.intent.asset, "", "unresolved until the registry names it");
    assert_eq!(p.intent.spend_in("ETH"), 60_000 * 30_000_000_000);

    let refused = |payload: Vec<u8>, why: &str| {
        let e = parse(&w, &payload, &PayloadExtras::default()).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    };
    // ETH sent along with a token transfer.
    refused(eip1559_token(1, &call), "must not also send ETH");
    // Another function (approve(address,uint256)) is a contract call, shown as one: the called
    // contract, the selector and the calldata (custody refuses it unless a policy allows it).
    let mut approve = call.clone();
    approve[..4].copy_from_slice(&[0x09, 0x5e, 0xa7, 0xb3]);
    let a = parse(&w, &eip1559_token(0, &approve), &PayloadExtras::default()).unwrap();
    assert!(a.intent.token.is_none());
    assert_eq!(a.intent.asset, "ETH");
    assert_eq!(a.intent.details[eth::CALL_SELECTOR], "095ea7b3");
    assert_eq!(a.intent.details["calldata"], hex::encode(&approve));
    assert_eq!(
        a.intent.transfers[0].to,
        Address::repeat_byte(0x22).to_checksum(None)
    );
    // Extra bytes after the two words of a transfer.
    let mut long = call.clone();
    long.push(0);
    refused(
        eip1559_token(0, &long),
        "not exactly transfer(address,uint256)",
    );
    // A recipient word with dirty high bytes.
    let mut dirty = call.clone();
    dirty[5] = 1;
    refused(eip1559_token(0, &dirty), "canonical address word");
    // Nothing moved.
    refused(
        eip1559_token(0, &eth::erc20_transfer_calldata(&recipient, 0)),
        "transfer of 0",
    );
}

#[test]
fn spl_token_transfers_parse_from_associated_accounts_only() {
    let (pk, w) = sol_test_wallet();
    let (to, mint, hash) = ([8u8; 32], [4u8; 32], [6u8; 32]);
    let msg = sol::token_transfer_message(&pk, &to, &mint, 2_500_000, 6, &hash, None).unwrap();
    let p = parse(&w, &msg, &PayloadExtras::default()).unwrap();
    let token = p.intent.token.clone().unwrap();
    assert_eq!(token.standard, TokenStandard::SplToken);
    assert_eq!(token.contract, bs58::encode(mint).into_string());
    assert_eq!(
        token.decimals, 6,
        "from the instruction (the runtime checks them)"
    );
    assert_eq!(p.intent.amount, Amount(2_500_000));
    // The recipient is the owner the creation names; its associated account is the destination.
    assert_eq!(p.intent.transfers[0].to, bs58::encode(to).into_string());
    let dest = sol::associated_token_account(&to, &mint).unwrap();
    assert_eq!(
        p.intent.details["destination_token_account"],
        bs58::encode(dest).into_string()
    );
    assert!(curve25519_dalek::edwards::CompressedEdwardsY(dest)
        .decompress()
        .is_none());
    assert_eq!(p.intent.fee, Amount(5_000 + sol::TOKEN_ACCOUNT_RENT));
    assert_eq!(p.intent.asset, "");
    // Over a durable nonce too.
    let durable =
        sol::token_transfer_message(&pk, &to, &mint, 1, 6, &hash, Some(&[5u8; 32])).unwrap();
    let d = parse(&w, &durable, &PayloadExtras::default()).unwrap();
    assert!(d.intent.details.contains_key("durable_nonce_account"));

    // The message: header 3, count 1, 8 keys, blockhash, instruction count; then the creation
    // (program, 6 accounts, data [1]) and TransferChecked (program, 4 accounts, 10 bytes).
    let transfer_at = 4 + 8 * 32 + 32 + 1 + (1 + 1 + 6 + 1 + 1);
    assert_eq!(msg[transfer_at + 1], 4, "TransferChecked has 4 accounts");
    let refused = |m: Vec<u8>, why: &str| {
        let e = parse(&w, &m, &PayloadExtras::default()).unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
    };
    // Another authority (the destination account's index) than the wallet.
    let mut other = msg.clone();
    other[transfer_at + 2 + 3] = 1;
    refused(other, "authority must be the wallet");
    // A source that is not the wallet's associated account (swap source and destination).
    let mut swapped = msg.clone();
    swapped.swap(transfer_at + 2, transfer_at + 2 + 2);
    refused(
        swapped,
        "source is not the wallet's associated token account",
    );
    // Another token instruction (Transfer, 3) instead of TransferChecked.
    let mut plain = msg.clone();
    plain[transfer_at + 2 + 4 + 1] = 3;
    refused(plain, "not an SPL TransferChecked");
    // A token transfer of 0.
    refused(
        sol::token_transfer_message(&pk, &to, &mint, 0, 6, &hash, None).unwrap(),
        "transfer of 0",
    );
}
