//! Solana: legacy messages made only of System Program transfers from the wallet, or of one SPL
//! Token `TransferChecked` from the wallet's associated token account (optionally after an
//! idempotent creation of the recipient's associated account); either optionally led by the
//! wallet's `AdvanceNonceAccount` (a durable nonce: the transaction stays valid until the nonce
//! account is advanced, so approvals may take hours).
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
/// The SPL Token program.
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
/// The associated token account program.
pub const ATA_PROGRAM: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
/// SPL Token instruction `TransferChecked`.
const SPL_TRANSFER_CHECKED: u8 = 12;
/// Rent-exempt minimum of a token account (165 bytes) at the default rent: what creating the
/// recipient's associated account costs the wallet.
pub const TOKEN_ACCOUNT_RENT: u128 = 2_039_280;
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
    let mut ixs = Vec::with_capacity(n_ix);
    for _ in 0..n_ix {
        let program = usize::from(r.byte("instruction")?);
        let n_acc = r.compact_u16("instruction accounts")?;
        let accs = r.take(n_acc, "instruction accounts")?.to_vec();
        let n_data = r.compact_u16("instruction data")?;
        let data = r.take(n_data, "instruction data")?;
        let program = *keys
            .get(program)
            .ok_or_else(|| payload_err("instruction program index out of range"))?;
        ixs.push(Ix {
            program,
            accs,
            data,
        });
    }
    if !r.buf.is_empty() {
        return Err(payload_err("trailing bytes after the message"));
    }
    let mut durable_nonce_account = None;
    let mut rest = ixs.as_slice();
    if let Some(first) = ixs.first() {
        if first.program == SYSTEM_PROGRAM && first.data == SYSTEM_ADVANCE_NONCE.to_le_bytes() {
            durable_nonce_account = Some(advance_nonce(0, &keys, &first.accs)?);
            rest = &ixs[1..];
        }
    }
    let offset = n_ix - rest.len();
    let token_program = program_key(TOKEN_PROGRAM);
    let (transfers, fee, token, mut details) = if rest.iter().any(|ix| ix.program == token_program)
    {
        spl_transfer(&keys, rest, offset)?
    } else {
        (
            system_transfers(&keys, rest, offset)?,
            LAMPORTS_PER_SIGNATURE,
            None,
            BTreeMap::new(),
        )
    };
    if transfers.is_empty() {
        return Err(payload_err("no transfer"));
    }
    let amount: u128 = transfers.iter().map(|t| t.amount.0).sum();
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
    let asset = if token.is_some() { "" } else { "SOL" };
    Ok(Parsed {
        intent: Intent {
            chain: wallet.chain,
            network: wallet.network,
            from: wallet.address.clone(),
            asset: asset.into(),
            transfers,
            amount: Amount(amount),
            fee: Amount(fee),
            details,
            token,
        },
        to_sign: vec![ToSign::Ed25519(payload.to_vec())],
    })
}

/// One instruction of a message, its program resolved.
struct Ix<'a> {
    program: [u8; 32],
    accs: Vec<u8>,
    data: &'a [u8],
}

/// A program id from its base58 text (constants of this module).
fn program_key(s: &str) -> [u8; 32] {
    bs58::decode(s)
        .into_vec()
        .ok()
        .and_then(|v| v.try_into().ok())
        .unwrap_or_default()
}

/// System transfers from the wallet, one per instruction.
fn system_transfers(
    keys: &[[u8; 32]],
    ixs: &[Ix<'_>],
    offset: usize,
) -> Result<Vec<Transfer>, ChainError> {
    let mut transfers = Vec::with_capacity(ixs.len());
    for (n, ix) in ixs.iter().enumerate() {
        let i = n + offset;
        if ix.program != SYSTEM_PROGRAM {
            return Err(payload_err(format!(
                "instruction {i} is not a System Program instruction"
            )));
        }
        if ix.data == SYSTEM_ADVANCE_NONCE.to_le_bytes() {
            return Err(payload_err(
                "AdvanceNonceAccount must be the first instruction",
            ));
        }
        if ix.data.len() != 12 || ix.data[..4] != SYSTEM_TRANSFER.to_le_bytes() {
            return Err(payload_err(format!(
                "instruction {i} is not a System transfer"
            )));
        }
        if ix.accs.len() != 2 || ix.accs[0] != 0 {
            return Err(payload_err(format!(
                "instruction {i} does not transfer from the wallet"
            )));
        }
        let to = keys
            .get(usize::from(ix.accs[1]))
            .ok_or_else(|| payload_err(format!("instruction {i}: account index out of range")))?;
        let mut lamports = [0u8; 8];
        lamports.copy_from_slice(&ix.data[4..]);
        transfers.push(Transfer {
            to: bs58::encode(to).into_string(),
            amount: Amount(u128::from(u64::from_le_bytes(lamports))),
        });
    }
    Ok(transfers)
}

type SplParts = (
    Vec<Transfer>,
    u128,
    Option<super::TokenRef>,
    BTreeMap<String, String>,
);

/// An SPL token transfer: optionally the recipient's associated token account created
/// (idempotently, paid by the wallet), then exactly one `TransferChecked` from the wallet's
/// associated token account, signed by the wallet. The transfer's `to` is the recipient's
/// wallet address when the creation names it (the destination must then be its associated
/// account), else the destination token account itself.
fn spl_transfer(keys: &[[u8; 32]], ixs: &[Ix<'_>], offset: usize) -> Result<SplParts, ChainError> {
    let token_program = program_key(TOKEN_PROGRAM);
    let ata_program = program_key(ATA_PROGRAM);
    let key = |i: usize, j: u8| {
        keys.get(usize::from(j))
            .copied()
            .ok_or_else(|| payload_err(format!("instruction {i}: account index out of range")))
    };
    let (create, transfer) = match ixs {
        [t] => (None, t),
        [c, t] => (Some(c), t),
        _ => {
            return Err(payload_err(
                "a token transfer is at most one associated-account creation and one \
                 TransferChecked",
            ))
        }
    };
    let ti = offset + usize::from(create.is_some());
    if transfer.program != token_program {
        return Err(payload_err(format!(
            "instruction {ti} is not an SPL Token instruction"
        )));
    }
    // TransferChecked: [12] ‖ amount (u64 LE) ‖ decimals; accounts source, mint, destination,
    // authority.
    if transfer.data.len() != 10 || transfer.data[0] != SPL_TRANSFER_CHECKED {
        return Err(payload_err(format!(
            "instruction {ti} is not an SPL TransferChecked (other token instructions are refused)"
        )));
    }
    let [source, mint, destination, authority] = transfer.accs.as_slice() else {
        return Err(payload_err(
            "TransferChecked takes 4 accounts (no multisig)",
        ));
    };
    if *authority != 0 {
        return Err(payload_err("the token authority must be the wallet"));
    }
    let (wallet, mint, source, destination) = (
        key(ti, 0)?,
        key(ti, *mint)?,
        key(ti, *source)?,
        key(ti, *destination)?,
    );
    if source != associated_token_account(&wallet, &mint)? {
        return Err(payload_err(
            "the source is not the wallet's associated token account of this mint",
        ));
    }
    let mut amount = [0u8; 8];
    amount.copy_from_slice(&transfer.data[1..9]);
    let amount = u64::from_le_bytes(amount);
    if amount == 0 {
        return Err(payload_err("a token transfer of 0"));
    }
    let decimals = transfer.data[9];
    let mut details = BTreeMap::new();
    details.insert("mint".to_string(), bs58::encode(mint).into_string());
    details.insert(
        "destination_token_account".to_string(),
        bs58::encode(destination).into_string(),
    );
    let mut fee = LAMPORTS_PER_SIGNATURE;
    let to = match create {
        None => destination,
        Some(c) => {
            let ci = offset;
            // CreateIdempotent: [1]; accounts payer, account, owner, mint, System, Token.
            if c.program != ata_program || c.data != [1] {
                return Err(payload_err(format!(
                    "instruction {ci} is not an associated token account CreateIdempotent"
                )));
            }
            let [payer, account, owner, c_mint, system, token] = c.accs.as_slice() else {
                return Err(payload_err("CreateIdempotent takes 6 accounts"));
            };
            if *payer != 0 {
                return Err(payload_err(
                    "the account creation must be paid by the wallet",
                ));
            }
            if key(ci, *system)? != SYSTEM_PROGRAM || key(ci, *token)? != token_program {
                return Err(payload_err("CreateIdempotent names other programs"));
            }
            let owner = key(ci, *owner)?;
            if key(ci, *c_mint)? != mint || key(ci, *account)? != destination {
                return Err(payload_err(
                    "the created account is not the transfer's destination for this mint",
                ));
            }
            if destination != associated_token_account(&owner, &mint)? {
                return Err(payload_err(
                    "the destination is not the owner's associated token account",
                ));
            }
            // The most it can cost: the rent of a new token account, if it did not exist.
            fee = fee.saturating_add(TOKEN_ACCOUNT_RENT);
            details.insert(
                "creates_token_account_if_missing".to_string(),
                "true".into(),
            );
            owner
        }
    };
    Ok((
        vec![Transfer {
            to: bs58::encode(to).into_string(),
            amount: Amount(u128::from(amount)),
        }],
        fee,
        Some(super::TokenRef {
            standard: super::TokenStandard::SplToken,
            contract: bs58::encode(mint).into_string(),
            decimals,
        }),
        details,
    ))
}

/// The associated token account of `owner` for `mint` (SPL Token program): the program address
/// derived from (owner, token program, mint) under the associated-token-account program.
pub fn associated_token_account(owner: &[u8; 32], mint: &[u8; 32]) -> Result<[u8; 32], ChainError> {
    use sha2::{Digest, Sha256};
    let token_program = program_key(TOKEN_PROGRAM);
    let ata_program = program_key(ATA_PROGRAM);
    for bump in (0u8..=255).rev() {
        let mut h = Sha256::new();
        h.update(owner);
        h.update(token_program);
        h.update(mint);
        h.update([bump]);
        h.update(ata_program);
        h.update(b"ProgramDerivedAddress");
        let candidate: [u8; 32] = h.finalize().into();
        // A program address is off the ed25519 curve.
        if curve25519_dalek::edwards::CompressedEdwardsY(candidate)
            .decompress()
            .is_none()
        {
            return Ok(candidate);
        }
    }
    Err(payload_err("no associated token account address exists"))
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

/// An unsigned legacy message paying `amount` base units of the SPL token `mint` (with
/// `decimals`) from the wallet's associated token account to `to`'s, creating the latter if
/// missing (idempotently, paid by the wallet); over `blockhash` or a durable nonce account.
pub fn token_transfer_message(
    from: &[u8; 32],
    to: &[u8; 32],
    mint: &[u8; 32],
    amount: u64,
    decimals: u8,
    blockhash: &[u8; 32],
    durable_nonce_account: Option<&[u8; 32]>,
) -> Result<Vec<u8>, ChainError> {
    let source = associated_token_account(from, mint)?;
    let destination = associated_token_account(to, mint)?;
    let sysvar = program_key(RECENT_BLOCKHASHES_SYSVAR);
    // Keys: the signer, the writable accounts, then the read-only ones.
    let mut keys: Vec<[u8; 32]> = vec![*from];
    keys.extend(durable_nonce_account.copied());
    keys.extend([destination, source]);
    let writable = keys.len();
    if durable_nonce_account.is_some() {
        keys.push(sysvar);
    }
    keys.extend([
        *to,
        *mint,
        SYSTEM_PROGRAM,
        program_key(TOKEN_PROGRAM),
        program_key(ATA_PROGRAM),
    ]);
    let at = |k: &[u8; 32]| keys.iter().position(|x| x == k).unwrap_or(0) as u8;
    let mut ixs: Vec<(u8, Vec<u8>, Vec<u8>)> = Vec::new();
    if let Some(n) = durable_nonce_account {
        ixs.push((
            at(&SYSTEM_PROGRAM),
            vec![at(n), at(&sysvar), 0],
            SYSTEM_ADVANCE_NONCE.to_le_bytes().to_vec(),
        ));
    }
    ixs.push((
        at(&program_key(ATA_PROGRAM)),
        vec![
            0,
            at(&destination),
            at(to),
            at(mint),
            at(&SYSTEM_PROGRAM),
            at(&program_key(TOKEN_PROGRAM)),
        ],
        vec![1],
    ));
    let mut data = vec![SPL_TRANSFER_CHECKED];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    ixs.push((
        at(&program_key(TOKEN_PROGRAM)),
        vec![at(&source), at(mint), at(&destination), 0],
        data,
    ));
    // Every count here is below 128: one compact-u16 byte each.
    let mut m = vec![1, 0, (keys.len() - writable) as u8, keys.len() as u8];
    for k in &keys {
        m.extend_from_slice(k);
    }
    m.extend_from_slice(blockhash);
    m.push(ixs.len() as u8);
    for (program, accs, data) in ixs {
        m.push(program);
        m.push(accs.len() as u8);
        m.extend_from_slice(&accs);
        m.push(data.len() as u8);
        m.extend_from_slice(&data);
    }
    Ok(m)
}

/// The signed transaction (one signature, then the message), base64.
pub fn assemble(message: &[u8], sig: &[u8]) -> String {
    let mut tx = Vec::with_capacity(1 + sig.len() + message.len());
    tx.push(1);
    tx.extend_from_slice(sig);
    tx.extend_from_slice(message);
    base64::engine::general_purpose::STANDARD.encode(tx)
}
