//! The Esplora adapter against an HTTP server answering with the fixtures in
//! `chains/fixtures/esplora` (written to the published API contract; see its README).
#![allow(clippy::unwrap_used)]

use super::*;
use crate::Adapter;
use mpc_protocol::chain::{self, WalletKey};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const TESTNET_GENESIS: &str = "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943";
const DEST: &str = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const CONFIRMED_TX: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const MEMPOOL_TX: &str = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
/// A prior output another transaction spent (its outspend says so).
const SPENT_PREV: &str = "5555555555555555555555555555555555555555555555555555555555555555";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/esplora")
            .join(name),
    )
    .unwrap()
}

/// Serves the fixtures on an ephemeral 127.0.0.1 port until the test ends; records POST bodies.
struct Server {
    url: String,
    posted: Arc<Mutex<Vec<String>>>,
}

fn route(method: &str, path: &str, body: &str) -> (u16, String) {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, seg.as_slice()) {
        ("GET", ["block-height", "0"]) => (200, TESTNET_GENESIS.into()),
        ("GET", ["blocks", "tip", "height"]) => (200, "101".into()),
        ("GET", ["fee-estimates"]) => (200, fixture("fee-estimates.json")),
        ("GET", ["address", _, "utxo"]) => (200, fixture("utxo.json")),
        ("GET", ["address", _]) => (200, fixture("address.json")),
        ("GET", ["tx", t, "status"]) if *t == CONFIRMED_TX => {
            (200, fixture("tx-status-confirmed.json"))
        }
        ("GET", ["tx", t, "status"]) if *t == MEMPOOL_TX => {
            (200, fixture("tx-status-mempool.json"))
        }
        ("GET", ["tx", _, "status"]) => (404, "Transaction not found".into()),
        ("GET", ["tx", t, "outspend", _]) if *t == SPENT_PREV => {
            (200, fixture("outspend-spent.json"))
        }
        ("GET", ["tx", _, "outspend", _]) => (200, fixture("outspend-unspent.json")),
        ("POST", ["tx"]) => {
            let raw = hex::decode(body.trim()).unwrap();
            let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&raw).unwrap();
            (200, tx.compute_txid().to_string())
        }
        _ => (404, "not found".into()),
    }
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let posted = Arc::new(Mutex::new(Vec::new()));
        let p = posted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(200) {
                let Ok(mut stream) = stream else { return };
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap().to_string(),
                );
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0u8; len];
                std::io::Read::read_exact(&mut r, &mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                if method == "POST" {
                    p.lock().unwrap().push(body.clone());
                }
                let (code, text) = route(&method, &path, &body);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Server { url, posted }
    }
}

fn wallet() -> WalletKey {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let pk = k256::SecretKey::from_slice(&[1u8; 32])
        .unwrap()
        .public_key();
    let pk = pk.to_encoded_point(true).as_bytes().to_vec();
    WalletKey {
        chain: Chain::BitcoinP2wpkh,
        network: Network::Testnet,
        address: chain::btc::p2wpkh_address(&pk, Network::Testnet).unwrap(),
        public_key: pk,
    }
}

fn request(w: &WalletKey, amount: u128) -> BuildRequest {
    BuildRequest {
        from: w.address.clone(),
        chain_id: None,
        to: DEST.into(),
        amount,
        fee: FeeLevel::Normal,
        token: None,
        token_decimals: None,
        durable_nonce_account: None,
    }
}

#[test]
fn connects_only_to_the_configured_network() {
    let s = Server::start();
    assert!(EsploraAdapter::connect(&s.url, Network::Testnet, Duration::from_secs(5)).is_ok());
    let e = EsploraAdapter::connect(&s.url, Network::Mainnet, Duration::from_secs(5))
        .err()
        .unwrap();
    assert!(e.to_string().contains("not Bitcoin Mainnet"), "{e}");
}

#[test]
fn builds_from_confirmed_utxos_with_the_providers_fee_rate() {
    let s = Server::start();
    let a = EsploraAdapter::connect(&s.url, Network::Testnet, Duration::from_secs(5)).unwrap();
    let w = wallet();
    assert_eq!(
        a.balance(&w.address).unwrap(),
        70_000,
        "confirmed funded − spent"
    );
    // Normal: the 6-block estimate, 4.2 → 5 sat/vB.
    assert_eq!(a.fee_rate(FeeLevel::Normal).unwrap(), 5);
    assert_eq!(a.fee_rate(FeeLevel::Slow).unwrap(), 2);
    assert_eq!(a.fee_rate(FeeLevel::Fast).unwrap(), 13);

    // 30,000 sat: the largest confirmed UTXO (50,000) covers it; change comes back.
    let b = a.build_transfer(&request(&w, 30_000)).unwrap();
    let p = chain::parse(&w, &b.payload, &b.extras).unwrap();
    assert_eq!(p.intent.amount.0, 30_000);
    assert_eq!(p.intent.transfers[0].to, DEST);
    // 1 input (68 vB) + destination and change (31 vB each) + 11 vB overhead, at 5 sat/vB.
    assert_eq!(p.intent.fee.0, (11 + 68 + 31 + 31) * 5);
    assert_eq!(b.extras.spent_outputs.len(), 1);
    assert_eq!(b.extras.spent_outputs[0].amount.0, 50_000);
    let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&b.payload).unwrap();
    assert_eq!(
        tx.input[0].previous_output.to_string(),
        format!("{}:1", "2".repeat(64))
    );
    assert_eq!(tx.output[1].value.to_sat(), 50_000 - 30_000 - 705);

    // 69,000 sat: both confirmed UTXOs; change would be dust, so it all goes to the fee.
    let b = a.build_transfer(&request(&w, 69_000)).unwrap();
    let p = chain::parse(&w, &b.payload, &b.extras).unwrap();
    assert_eq!(b.extras.spent_outputs.len(), 2);
    assert_eq!(p.intent.fee.0, 1_000);
    let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&b.payload).unwrap();
    assert_eq!(tx.output.len(), 1);

    // More than the confirmed coins (the unconfirmed 900,000 are not spent) is refused.
    let e = a.build_transfer(&request(&w, 69_500)).err().unwrap();
    assert!(e.to_string().contains("cannot pay"), "{e}");
    // Dust is refused.
    assert!(a.build_transfer(&request(&w, 100)).is_err());
}

#[test]
fn broadcasts_and_follows_a_transaction() {
    let s = Server::start();
    let a = EsploraAdapter::connect(&s.url, Network::Testnet, Duration::from_secs(5)).unwrap();
    let w = wallet();
    let b = a.build_transfer(&request(&w, 30_000)).unwrap();
    let hex_tx = hex::encode(&b.payload);
    let intent = chain::parse(&w, &b.payload, &b.extras).unwrap().intent;
    let txid = a.broadcast(&hex_tx).unwrap();
    assert_eq!(
        s.posted.lock().unwrap().as_slice(),
        std::slice::from_ref(&hex_tx)
    );
    assert_eq!(txid, chain::txid(Chain::BitcoinP2wpkh, &hex_tx).unwrap());

    // In block 100 with the tip at 101: 2 confirmations.
    assert_eq!(
        a.observe(CONFIRMED_TX, &intent, &hex_tx).unwrap(),
        Observed::Included {
            confirmations: 2,
            block: 100,
            success: true,
            reason: String::new()
        }
    );
    assert_eq!(
        a.observe(MEMPOOL_TX, &intent, &hex_tx).unwrap(),
        Observed::Pending
    );
    // Unknown, its inputs unspent: it may still land.
    assert_eq!(
        a.observe(&txid, &intent, &hex_tx).unwrap(),
        Observed::Unknown
    );
    // Unknown, and an input was spent by another transaction: dropped.
    let mut tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&b.payload).unwrap();
    tx.input[0].previous_output = format!("{SPENT_PREV}:0").parse().unwrap();
    let rival = bitcoin::consensus::encode::serialize_hex(&tx);
    match a.observe(&txid, &intent, &rival).unwrap() {
        Observed::Dropped { reason } => assert!(reason.contains(&"f".repeat(64)), "{reason}"),
        other => panic!("{other:?}"),
    }
}
