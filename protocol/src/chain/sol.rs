//! Solana: legacy messages made only of System Program transfers from the wallet, optionally
//! led by the wallet's `AdvanceNonceAccount` (a durable nonce: the transaction stays valid until
//! the nonce account is advanced, so approvals may take hours).
//!
//! Message layout: header (3 bytes), compact-u16 account count and 32-byte keys, 32-byte recent
//! blockhash, compact-u16 instruction count and instructions (program index, compact-u16 account
//! indices, compact-u16 data). The wallet must be the only signer and the fee payer.

use super::{payload_err, Amount, ChainError, Intent, Parsed, ToSign, Transfer, WalletKey};
use base64::Engine;
use std::collections::BTreeMap;

/// The System Program id (all zero bytes).
const SYSTEM_PROGRAM: [u8; 32] = [0; 32];
/// System instruction index of `Transfer`.
const SYSTEM_TRANSFER: u32 = 2;
/// System instruction index of `AdvanceNonceAccount`.
const SYSTEM_ADVANCE_NONCE: u32 = 4;
/// The `RecentBlockhashes` sysvar `AdvanceNonceAccount` reads.
pub const RECENT_BLOCKHASHES_SYSVAR: &str = "SysvarRecentB1ockHashes11111111111111111111";
/// Lamports per signature (base fee).
const LAMPORTS_PER_SIGNATURE: u128 = 5000;
/// Most instructions accepted.
const MAX_INSTRUCTIONS: usize = 16;

/// base58 address of an ed25519 key.
pub fn address(public_key: &[u8]) -> Result<String, ChainError> {
    if public_key.len() != 32 {
        return Err(ChainError::Key("ed25519 key must be 32 bytes".into()));
    }
    Ok(bs58::encode(public_key).into_string())
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ChainError> {
        if self.buf.len() < n {
            return Err(payload_err(format!("message ends inside {what}")));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn byte(&mut self, what: &str) -> Result<u8, ChainError> {
        Ok(self.take(1, what)?[0])
    }

    /// Solana's compact-u16 (1–3 bytes, little-endian base 128, canonical).
    fn compact_u16(&mut self, what: &str) -> Result<usize, ChainError> {
        let mut value: u32 = 0;
        for i in 0..3 {
            let b = self.byte(what)?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if (b == 0 && i > 0) || value > u32::from(u16::MAX) {
                    return Err(payload_err(format!("non-canonical length in {what}")));
                }
                return Ok(value as usize);
            }
        }
        Err(payload_err(format!("length too long in {what}")))
    }
}

/// Parses a legacy message.
pub fn parse(wallet: &WalletKey, payload: &[u8]) -> Result<Parsed, ChainError> {
    let mut r = Reader { buf: payload };
    let required_sigs = r.byte("header")?;
    if required_sigs & 0x80 != 0 {
        return Err(payload_err("versioned (v0) messages are not supported yet"));
    }
    let _readonly_signed = r.byte("header")?;
    let _readonly_unsigned = r.byte("header")?;
    if required_sigs != 1 {
        return Err(payload_err("the wallet must be the only signer"));
    }
    let n_keys = r.compact_u16("account keys")?;
    if n_keys == 0 || n_keys > 64 {
        return Err(payload_err("1 to 64 account keys expected"));
    }
    let mut keys = Vec::with_capacity(n_keys);
    for _ in 0..n_keys {
        let k: [u8; 32] = r
            .take(32, "account keys")?
            .try_into()
            .map_err(|_| payload_err("account key"))?;
        keys.push(k);
    }
    if keys[0].as_slice() != wallet.public_key.as_slice() {
        return Err(payload_err("fee payer is not this wallet"));
    }
    let blockhash = r.take(32, "recent blockhash")?;
    let n_ix = r.compact_u16("instructions")?;
    if n_ix == 0 || n_ix > MAX_INSTRUCTIONS {
        return Err(payload_err(format!(
            "1 to {MAX_INSTRUCTIONS} instructions expected"
        )));
    }
    let mut transfers = Vec::new();
    let mut durable_nonce_account = None;
    for i in 0..n_ix {
        let program = usize::from(r.byte("instruction")?);
        let n_acc = r.compact_u16("instruction accounts")?;
        let accs = r.take(n_acc, "instruction accounts")?.to_vec();
        let n_data = r.compact_u16("instruction data")?;
        let data = r.take(n_data, "instruction data")?;
        if keys.get(program) != Some(&SYSTEM_PROGRAM) {
            return Err(payload_err(format!(
                "instruction {i} is not a System Program instruction"
            )));
        }
        if data == SYSTEM_ADVANCE_NONCE.to_le_bytes() {
            durable_nonce_account = Some(advance_nonce(i, &keys, &accs)?);
            continue;
        }
        if data.len() != 12 || data[..4] != SYSTEM_TRANSFER.to_le_bytes() {
            return Err(payload_err(format!(
                "instruction {i} is not a System transfer"
            )));
        }
        if accs.len() != 2 || accs[0] != 0 {
            return Err(payload_err(format!(
                "instruction {i} does not transfer from the wallet"
            )));
        }
        let to = keys
            .get(usize::from(accs[1]))
            .ok_or_else(|| payload_err(format!("instruction {i}: account index out of range")))?;
        let mut lamports = [0u8; 8];
        lamports.copy_from_slice(&data[4..]);
        transfers.push(Transfer {
            to: bs58::encode(to).into_string(),
            amount: Amount(u128::from(u64::from_le_bytes(lamports))),
        });
    }
    if !r.buf.is_empty() {
        return Err(payload_err("trailing bytes after the message"));
    }
    if transfers.is_empty() {
        return Err(payload_err("no transfer"));
    }
    let amount: u128 = transfers.iter().map(|t| t.amount.0).sum();
    let mut details = BTreeMap::new();
    let hash = bs58::encode(blockhash).into_string();
    match durable_nonce_account {
        // The "blockhash" is the nonce account's stored nonce.
        Some(account) => {
            details.insert("durable_nonce_account".into(), account);
            details.insert("durable_nonce".into(), hash);
        }
        None => {
            details.insert("recent_blockhash".into(), hash);
        }
    }
    details.insert("instructions".into(), n_ix.to_string());
    Ok(Parsed {
        intent: Intent {
            chain: wallet.chain,
            network: wallet.network,
            from: wallet.address.clone(),
            asset: "SOL".into(),
            transfers,
            amount: Amount(amount),
            fee: Amount(LAMPORTS_PER_SIGNATURE),
            details,
            token: None,
        },
        to_sign: vec![ToSign::Ed25519(payload.to_vec())],
    })
}

/// Checks an `AdvanceNonceAccount` instruction: only first, authorised by the wallet, with the
/// sysvar it needs; returns the nonce account's address.
fn advance_nonce(i: usize, keys: &[[u8; 32]], accs: &[u8]) -> Result<String, ChainError> {
    if i != 0 {
        return Err(payload_err(
            "AdvanceNonceAccount must be the first instruction",
        ));
    }
    let key = |j: u8| {
        keys.get(usize::from(j))
            .ok_or_else(|| payload_err("instruction 0: account index out of range"))
    };
    let [nonce, sysvar, authority] = accs else {
        return Err(payload_err("AdvanceNonceAccount takes 3 accounts"));
    };
    if *authority != 0 {
        return Err(payload_err("the nonce authority must be the wallet"));
    }
    if bs58::encode(key(*sysvar)?).into_string() != RECENT_BLOCKHASHES_SYSVAR {
        return Err(payload_err(
            "AdvanceNonceAccount without the RecentBlockhashes sysvar",
        ));
    }
    if *nonce == 0 {
        return Err(payload_err("the nonce account cannot be the wallet"));
    }
    Ok(bs58::encode(key(*nonce)?).into_string())
}

/// An unsigned legacy message paying `lamports` from `from` to `to`: over a recent
/// `blockhash`, or — with `durable_nonce_account` (authority `from`) — over that account's
/// stored nonce, led by `AdvanceNonceAccount`.
pub fn transfer_message(
    from: &[u8; 32],
    to: &[u8; 32],
    lamports: u64,
    blockhash: &[u8; 32],
    durable_nonce_account: Option<&[u8; 32]>,
) -> Vec<u8> {
    let transfer = |m: &mut Vec<u8>, from: u8, to: u8| {
        m.extend_from_slice(&[from, to, 12]);
        m.extend_from_slice(&SYSTEM_TRANSFER.to_le_bytes());
        m.extend_from_slice(&lamports.to_le_bytes());
    };
    match durable_nonce_account {
        None => {
            let mut m = vec![1, 0, 1, 3];
            for k in [from, to, &SYSTEM_PROGRAM, blockhash] {
                m.extend_from_slice(k);
            }
            m.extend_from_slice(&[1, 2, 2]);
            transfer(&mut m, 0, 1);
            m
        }
        Some(nonce) => {
            let sysvar: [u8; 32] = bs58::decode(RECENT_BLOCKHASHES_SYSVAR)
                .into_vec()
                .ok()
                .and_then(|v| v.try_into().ok())
                .unwrap_or_default();
            // Keys: wallet (signer), nonce account, destination, then the read-only sysvar and
            // System Program.
            let mut m = vec![1, 0, 2, 5];
            for k in [from, nonce, to, &sysvar, &SYSTEM_PROGRAM, blockhash] {
                m.extend_from_slice(k);
            }
            m.push(2);
            m.extend_from_slice(&[4, 3, 1, 3, 0, 4]);
            m.extend_from_slice(&SYSTEM_ADVANCE_NONCE.to_le_bytes());
            m.extend_from_slice(&[4, 2]);
            transfer(&mut m, 0, 2);
            m
        }
    }
}

/// The signed transaction (one signature, then the message), base64.
pub fn assemble(message: &[u8], sig: &[u8]) -> String {
    let mut tx = Vec::with_capacity(1 + sig.len() + message.len());
    tx.push(1);
    tx.extend_from_slice(sig);
    tx.extend_from_slice(message);
    base64::engine::general_purpose::STANDARD.encode(tx)
}
