//! The encrypted share store: key shares, nonces and presignatures at rest, in sled.
//!
//! - A versioned header (tree `share_meta`, key `header`) holds the Argon2id parameters, the salt,
//!   the node id and a check value (an AEAD encryption of a fixed text) that tells a wrong
//!   passphrase from a tampered record. Parameters below the floor are refused.
//! - Each record (tree `shares`) is XChaCha20-Poly1305 with a random 192-bit nonce; the
//!   associated data binds node id, key id, record kind and record version, so a record moved
//!   under another key id or kind, or from another node, fails to open.
//! - Every write and delete is flushed before it returns, so "consumed" is durable before the
//!   caller lets anything derived from the record leave the node.
//! - Plaintexts are returned in `Zeroizing` buffers; the key is zeroized on drop; `Debug` shows
//!   no secret.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use mpc_bootstrap::sealed::{derive_key, KdfParams};
use mpc_bootstrap::BootstrapError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

const HEADER_KEY: &[u8] = b"header";
/// Tree of session ids this node has joined (see [`ShareStore::join_session_once`]).
const SESSIONS_TREE: &str = "sessions_joined";
const STORE_VERSION: u32 = 1;
const CHECK_PLAINTEXT: &[u8] = b"mpc-node share store check v1";
const AD_PREFIX: &[u8] = b"mpc-node/v1/share-record\n";
/// Bytes of the share store's sled page cache: its records are small and each is read once per use;
/// sled's default (1 GiB) would let memory grow with the pools' history.
const SHARE_CACHE_BYTES: u64 = 32 * 1024 * 1024;
const CHECK_AD: &[u8] = b"mpc-node/v1/share-store-check\n";
/// Largest record stored, bytes.
pub const MAX_SHARE_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A key share (FROST key package, cggmp21 key share).
    KeyShare,
    /// Pre-generated FROST nonces.
    Nonces,
    /// An ECDSA presignature.
    Presignature,
    /// ECDSA auxiliary info (Paillier keys, ring-Pedersen parameters).
    AuxInfo,
}

impl RecordKind {
    /// The kind's name in record keys and backup kits.
    pub fn tag(self) -> &'static str {
        match self {
            RecordKind::KeyShare => "key_share",
            RecordKind::Nonces => "nonces",
            RecordKind::Presignature => "presignature",
            RecordKind::AuxInfo => "aux_info",
        }
    }
}

/// A decrypted record for a backup kit: key id, kind, plaintext.
pub type ExportedRecord = (String, RecordKind, Zeroizing<Vec<u8>>);

/// Share-store failures.
#[derive(Debug, thiserror::Error)]
pub enum ShareStoreError {
    /// The passphrase does not open this store. Nothing was changed.
    #[error("wrong passphrase for the share store; the node stays sealed")]
    WrongPassphrase,
    /// A record failed authentication: tampered with, or moved under another key id / kind.
    #[error("share record '{0}' failed authentication (tampered or swapped)")]
    Tampered(String),
    /// The store belongs to another node.
    #[error("share store belongs to node {found}, not {expected}")]
    WrongNode {
        /// Node id in the header.
        found: u64,
        /// Node id asked for.
        expected: u64,
    },
    /// KDF parameters or passphrase problems.
    #[error(transparent)]
    Kdf(#[from] BootstrapError),
    /// Record too large, malformed header, bad key id.
    #[error("invalid share record: {0}")]
    Invalid(String),
    /// sled failed.
    #[error("share store I/O: {0}")]
    Io(#[from] sled::Error),
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    node_id: u64,
    kdf: KdfParams,
    salt: [u8; 16],
    check_nonce: [u8; 24],
    check: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct StoredRecord {
    version: u32,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// The unsealed store.
pub struct ShareStore {
    db: sled::Db,
    records: sled::Tree,
    node_id: u64,
    cipher: XChaCha20Poly1305,
    _key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ShareStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareStore")
            .field("node_id", &self.node_id)
            .field("records", &self.records.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A new store's key (from the passphrase and a fresh salt) and header (with the encrypted
/// check value that detects a wrong passphrase).
fn new_header(
    passphrase: &[u8],
    node_id: u64,
    kdf: KdfParams,
) -> Result<(Zeroizing<[u8; 32]>, Header), ShareStoreError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let key = derive_key(passphrase, &salt, &kdf)?;
    let mut check_nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut check_nonce);
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key[..]));
    let check = cipher
        .encrypt(
            XNonce::from_slice(&check_nonce),
            Payload {
                msg: CHECK_PLAINTEXT,
                aad: CHECK_AD,
            },
        )
        .map_err(|_| ShareStoreError::Invalid("encrypting the check value".into()))?;
    let header = Header {
        version: STORE_VERSION,
        node_id,
        kdf,
        salt,
        check_nonce,
        check,
    };
    Ok((key, header))
}

fn record_key(key_id: &str, kind: RecordKind) -> Result<Vec<u8>, ShareStoreError> {
    if key_id.is_empty() || key_id.len() > 128 || key_id.contains('\0') {
        return Err(ShareStoreError::Invalid(
            "key id must be 1 to 128 bytes without NUL".into(),
        ));
    }
    Ok(format!("{}\0{}", kind.tag(), key_id).into_bytes())
}

fn associated_data(node_id: u64, key_id: &str, kind: RecordKind, version: u32) -> Vec<u8> {
    let mut ad = AD_PREFIX.to_vec();
    ad.extend_from_slice(&node_id.to_be_bytes());
    ad.extend_from_slice(kind.tag().as_bytes());
    ad.push(0);
    ad.extend_from_slice(&version.to_be_bytes());
    ad.extend_from_slice(key_id.as_bytes());
    ad
}

impl ShareStore {
    /// Opens (creating on first use) the store at `path` for `node_id`. A wrong passphrase
    /// returns [`ShareStoreError::WrongPassphrase`] and writes nothing.
    pub fn open(
        path: &Path,
        node_id: u64,
        passphrase: &[u8],
        kdf_for_new: KdfParams,
    ) -> Result<Self, ShareStoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(SHARE_CACHE_BYTES)
            .open()?;
        let meta = db.open_tree("share_meta")?;
        let records = db.open_tree("shares")?;
        let (key, header) = match meta.get(HEADER_KEY)? {
            Some(bytes) => {
                let header: Header = mpc_protocol::decode(&bytes, 4096)
                    .map_err(|e| ShareStoreError::Invalid(format!("header: {e}")))?;
                if header.version != STORE_VERSION {
                    return Err(ShareStoreError::Invalid(format!(
                        "unsupported version {}",
                        header.version
                    )));
                }
                if header.node_id != node_id {
                    return Err(ShareStoreError::WrongNode {
                        found: header.node_id,
                        expected: node_id,
                    });
                }
                (derive_key(passphrase, &header.salt, &header.kdf)?, header)
            }
            None => {
                let (key, header) = new_header(passphrase, node_id, kdf_for_new)?;
                let bytes = mpc_protocol::encode(&header)
                    .map_err(|e| ShareStoreError::Invalid(e.to_string()))?;
                meta.insert(HEADER_KEY, bytes)?;
                db.flush()?;
                (key, header)
            }
        };
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key[..]));
        match cipher.decrypt(
            XNonce::from_slice(&header.check_nonce),
            Payload {
                msg: &header.check,
                aad: CHECK_AD,
            },
        ) {
            Ok(p) if p == CHECK_PLAINTEXT => {}
            _ => return Err(ShareStoreError::WrongPassphrase),
        }
        Ok(ShareStore {
            db,
            records,
            node_id,
            cipher,
            _key: key,
        })
    }

    /// Encrypts and stores a record, replacing any previous one; flushed before returning.
    pub fn put(
        &self,
        key_id: &str,
        kind: RecordKind,
        plaintext: &[u8],
    ) -> Result<(), ShareStoreError> {
        crate::metrics::share_store_op("put");
        let (k, bytes) = self.seal(key_id, kind, plaintext)?;
        self.records.insert(k, bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Encrypts and stores several records of one kind at once (one atomic batch, one flush):
    /// after a crash either all of them are there or none.
    pub fn put_many(
        &self,
        kind: RecordKind,
        records: &[(String, Zeroizing<Vec<u8>>)],
    ) -> Result<(), ShareStoreError> {
        crate::metrics::share_store_op("put_many");
        let mut batch = sled::Batch::default();
        for (key_id, plaintext) in records {
            let (k, bytes) = self.seal(key_id, kind, plaintext)?;
            batch.insert(k, bytes);
        }
        self.records.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// The store key and sealed bytes of a record.
    fn seal(
        &self,
        key_id: &str,
        kind: RecordKind,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), ShareStoreError> {
        if plaintext.len() > MAX_SHARE_RECORD_BYTES {
            return Err(ShareStoreError::Invalid(format!(
                "record of {} bytes is too large",
                plaintext.len()
            )));
        }
        let k = record_key(key_id, kind)?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ad = associated_data(self.node_id, key_id, kind, STORE_VERSION);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| ShareStoreError::Invalid("encryption failed".into()))?;
        let rec = StoredRecord {
            version: STORE_VERSION,
            nonce,
            ciphertext,
        };
        let bytes =
            mpc_protocol::encode(&rec).map_err(|e| ShareStoreError::Invalid(e.to_string()))?;
        Ok((k, bytes))
    }

    /// Decrypts a record. `Ok(None)` if absent; [`ShareStoreError::Tampered`] if it fails
    /// authentication.
    pub fn get(
        &self,
        key_id: &str,
        kind: RecordKind,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ShareStoreError> {
        crate::metrics::share_store_op("get");
        let k = record_key(key_id, kind)?;
        let Some(bytes) = self.records.get(&k)? else {
            return Ok(None);
        };
        self.open_record(key_id, kind, &bytes).map(Some)
    }

    /// Authenticates and decrypts the stored bytes of a record.
    fn open_record(
        &self,
        key_id: &str,
        kind: RecordKind,
        bytes: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ShareStoreError> {
        let rec: StoredRecord = mpc_protocol::decode(bytes, MAX_SHARE_RECORD_BYTES + 1024)
            .map_err(|_| ShareStoreError::Tampered(key_id.to_string()))?;
        let ad = associated_data(self.node_id, key_id, kind, rec.version);
        self.cipher
            .decrypt(
                XNonce::from_slice(&rec.nonce),
                Payload {
                    msg: &rec.ciphertext,
                    aad: &ad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| ShareStoreError::Tampered(key_id.to_string()))
    }

    /// Removes a record and flushes: once this returns, the record is gone even after a crash.
    /// Returns the decrypted record so a single-use secret is consumed exactly once: the
    /// removal is one atomic compare-and-remove in sled (`remove` hands back the value it
    /// removed), so of two concurrent takes of the same record exactly one gets it, and the
    /// flush happens before the caller sees the plaintext.
    pub fn take(
        &self,
        key_id: &str,
        kind: RecordKind,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ShareStoreError> {
        crate::metrics::share_store_op("take");
        let Some(bytes) = self.records.remove(record_key(key_id, kind)?)? else {
            return Ok(None);
        };
        self.db.flush()?;
        self.open_record(key_id, kind, &bytes).map(Some)
    }

    /// Takes several records of one kind, each removed atomically as by [`ShareStore::take`],
    /// with one flush before any plaintext is returned: once this returns, every record it
    /// handed out is gone even after a crash. One entry per key id, in order: `Ok(None)` if the
    /// record was not there, an error if it failed authentication (it is gone either way).
    #[allow(clippy::type_complexity)]
    pub fn take_many(
        &self,
        key_ids: &[&str],
        kind: RecordKind,
    ) -> Result<Vec<Result<Option<Zeroizing<Vec<u8>>>, ShareStoreError>>, ShareStoreError> {
        crate::metrics::share_store_op("take_many");
        let keys = key_ids
            .iter()
            .map(|id| record_key(id, kind))
            .collect::<Result<Vec<_>, _>>()?;
        let mut removed = Vec::with_capacity(keys.len());
        for k in keys {
            removed.push(self.records.remove(k)?);
        }
        if removed.iter().any(Option::is_some) {
            self.db.flush()?;
        }
        Ok(key_ids
            .iter()
            .zip(removed)
            .map(|(id, bytes)| bytes.map(|b| self.open_record(id, kind, &b)).transpose())
            .collect())
    }

    /// Deletes a record (flushed before it returns); false if there was none.
    pub fn delete(&self, key_id: &str, kind: RecordKind) -> Result<bool, ShareStoreError> {
        crate::metrics::share_store_op("delete");
        let existed = self.records.remove(record_key(key_id, kind)?)?.is_some();
        if existed {
            self.db.flush()?;
        }
        Ok(existed)
    }

    /// The key ids of the records of `kind` whose key id starts with `prefix` (key ids are not
    /// secret; nothing is decrypted).
    pub fn key_ids(&self, kind: RecordKind, prefix: &str) -> Result<Vec<String>, ShareStoreError> {
        let start = format!("{}\0{prefix}", kind.tag());
        let mut out = Vec::new();
        for item in self.records.scan_prefix(start.as_bytes()) {
            let (k, _) = item?;
            let text = std::str::from_utf8(&k)
                .map_err(|_| ShareStoreError::Invalid("record key is not UTF-8".into()))?;
            if let Some((_, id)) = text.split_once('\0') {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    /// Records, durably, that this node joins session `session_id`; false if it already did
    /// (before a restart, say). A session that involves secret single-use material (signing,
    /// presigning) is joined at most once per node, whatever happens to the process.
    pub fn join_session_once(&self, session_id: &[u8; 32]) -> Result<bool, ShareStoreError> {
        let joined = self.db.open_tree(SESSIONS_TREE)?;
        let first = joined
            .compare_and_swap(session_id, None as Option<&[u8]>, Some(&[1u8][..]))?
            .is_ok();
        if first {
            self.db.flush()?;
        }
        Ok(first)
    }

    /// Every record of the given kinds, decrypted (for a backup kit), sorted by kind and key
    /// id. A record that fails authentication stops the export with
    /// [`ShareStoreError::Tampered`].
    pub fn export(&self, kinds: &[RecordKind]) -> Result<Vec<ExportedRecord>, ShareStoreError> {
        let mut out = Vec::new();
        for item in self.records.iter() {
            let (k, v) = item?;
            let text = std::str::from_utf8(&k)
                .map_err(|_| ShareStoreError::Invalid("record key is not UTF-8".into()))?;
            let (tag, key_id) = text
                .split_once('\0')
                .ok_or_else(|| ShareStoreError::Invalid("record key has no kind".into()))?;
            let Some(kind) = kinds.iter().copied().find(|kind| kind.tag() == tag) else {
                continue;
            };
            let plain = self.open_record(key_id, kind, &v)?;
            out.push((key_id.to_string(), kind, plain));
        }
        Ok(out)
    }

    /// The session ids this node has joined (for a backup kit: a restored node must not join
    /// them again).
    pub fn joined_sessions(&self) -> Result<Vec<[u8; 32]>, ShareStoreError> {
        let joined = self.db.open_tree(SESSIONS_TREE)?;
        let mut out = Vec::new();
        for item in joined.iter() {
            let (k, _) = item?;
            if let Ok(id) = <[u8; 32]>::try_from(&k[..]) {
                out.push(id);
            }
        }
        Ok(out)
    }

    #[cfg(test)]
    fn raw(&self) -> &sled::Tree {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Invariant 4 under races: of many threads taking the same presignature at once, exactly
    /// one gets it (the removal is atomic), every time.
    #[test]
    fn concurrent_takes_of_one_record_yield_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(
            ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap(),
        );
        for round in 0..50 {
            let key = format!("presig/w/{round}");
            s.put(&key, RecordKind::Presignature, b"presignature")
                .unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (s, key, barrier) = (s.clone(), key.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        s.take(&key, RecordKind::Presignature).unwrap().is_some()
                    })
                })
                .collect();
            let got = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|g| *g)
                .count();
            assert_eq!(
                got, 1,
                "round {round}: {got} takes got the same presignature"
            );
        }
    }

    #[test]
    fn a_nonce_block_is_stored_whole_and_each_slot_taken_once_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let slots: Vec<(String, Zeroizing<Vec<u8>>)> = (0..32)
            .map(|i| (format!("presig/w/{i}"), Zeroizing::new(vec![i as u8; 100])))
            .collect();
        {
            let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
            s.put_many(RecordKind::Nonces, &slots).unwrap();
            assert_eq!(
                s.key_ids(RecordKind::Nonces, "presig/w/").unwrap().len(),
                32
            );
            // Sealed like any record: read back only as the kind it was stored as.
            assert!(s
                .get("presig/w/3", RecordKind::Presignature)
                .unwrap()
                .is_none());
            assert_eq!(
                &s.take("presig/w/3", RecordKind::Nonces).unwrap().unwrap()[..],
                &[3u8; 100][..]
            );
            assert!(s.take("presig/w/3", RecordKind::Nonces).unwrap().is_none());
        }
        // A restart (the store reopened) remembers the taken slot as gone, and the others.
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        assert!(
            s.take("presig/w/3", RecordKind::Nonces).unwrap().is_none(),
            "a restart brought a used nonce slot back"
        );
        assert!(s.take("presig/w/4", RecordKind::Nonces).unwrap().is_some());
        assert_eq!(
            s.key_ids(RecordKind::Nonces, "presig/w/").unwrap().len(),
            30
        );
        // An oversized slot refuses the whole block: nothing of it is written.
        let mut bad = vec![("presig/x/0".to_string(), Zeroizing::new(vec![0u8; 16]))];
        bad.push((
            "presig/x/1".to_string(),
            Zeroizing::new(vec![0u8; MAX_SHARE_RECORD_BYTES + 1]),
        ));
        assert!(s.put_many(RecordKind::Nonces, &bad).is_err());
        assert!(s.get("presig/x/0", RecordKind::Nonces).unwrap().is_none());
    }

    /// A batch session takes all its slots at once (one flush): each slot still leaves once,
    /// also against concurrent single takes and across a reopen.
    #[test]
    fn slots_taken_together_are_each_taken_once_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let slots: Vec<(String, Zeroizing<Vec<u8>>)> = (0..8)
            .map(|i| (format!("presig/w/{i}"), Zeroizing::new(vec![i as u8; 64])))
            .collect();
        let keys: Vec<&str> = slots.iter().map(|(k, _)| k.as_str()).collect();
        {
            let s = std::sync::Arc::new(
                ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap(),
            );
            s.put_many(RecordKind::Nonces, &slots).unwrap();
            // A concurrent single take races the batch for slot 5: exactly one of them wins.
            let racer = {
                let s = s.clone();
                std::thread::spawn(move || s.take("presig/w/5", RecordKind::Nonces).unwrap())
            };
            let got = s.take_many(&keys[..6], RecordKind::Nonces).unwrap();
            let single = racer.join().unwrap();
            let batch_got_5 = got[5].as_ref().unwrap().is_some();
            assert!(
                batch_got_5 != single.is_some(),
                "slot 5 was handed out twice"
            );
            for (i, g) in got.iter().enumerate().take(5) {
                assert_eq!(
                    &g.as_ref().unwrap().as_ref().unwrap()[..],
                    &[i as u8; 64][..]
                );
            }
            // Taken together again: nothing.
            let again = s.take_many(&keys[..6], RecordKind::Nonces).unwrap();
            assert!(again.iter().all(|g| g.as_ref().unwrap().is_none()));
        }
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        let after = s.take_many(&keys, RecordKind::Nonces).unwrap();
        assert!(
            after[..6].iter().all(|g| g.as_ref().unwrap().is_none()),
            "a restart brought a used nonce slot back"
        );
        assert!(after[6..].iter().all(|g| g.as_ref().unwrap().is_some()));
    }

    #[test]
    fn a_session_is_joined_once_even_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let sid = [7u8; 32];
        {
            let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
            assert!(s.join_session_once(&sid).unwrap());
            assert!(!s.join_session_once(&sid).unwrap());
        }
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        assert!(
            !s.join_session_once(&sid).unwrap(),
            "a restart forgot the session"
        );
        assert!(s.join_session_once(&[8u8; 32]).unwrap());
    }

    #[test]
    fn round_trip_and_durable_take() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
            s.put("vault-1/ed25519", RecordKind::KeyShare, b"secret share")
                .unwrap();
            s.put("vault-1/ed25519/n0", RecordKind::Nonces, b"nonce")
                .unwrap();
            assert_eq!(
                &s.get("vault-1/ed25519", RecordKind::KeyShare)
                    .unwrap()
                    .unwrap()[..],
                b"secret share"
            );
            assert_eq!(
                &s.take("vault-1/ed25519/n0", RecordKind::Nonces)
                    .unwrap()
                    .unwrap()[..],
                b"nonce"
            );
            assert!(!format!("{s:?}").contains("secret"));
        }
        // Reopened (as after a crash): the share is there, the consumed nonce is not.
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        assert!(s
            .get("vault-1/ed25519", RecordKind::KeyShare)
            .unwrap()
            .is_some());
        assert!(s
            .take("vault-1/ed25519/n0", RecordKind::Nonces)
            .unwrap()
            .is_none());
    }

    #[test]
    fn wrong_passphrase_leaves_the_node_sealed_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor())
            .unwrap()
            .put("k", RecordKind::KeyShare, b"s")
            .unwrap();
        assert!(matches!(
            ShareStore::open(dir.path(), 1, b"nope", KdfParams::floor()),
            Err(ShareStoreError::WrongPassphrase)
        ));
        assert!(matches!(
            ShareStore::open(dir.path(), 2, b"pw", KdfParams::floor()),
            Err(ShareStoreError::WrongNode { .. })
        ));
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        assert_eq!(
            &s.get("k", RecordKind::KeyShare).unwrap().unwrap()[..],
            b"s"
        );
    }

    #[test]
    fn tampered_and_swapped_records_fail_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = ShareStore::open(dir.path(), 1, b"pw", KdfParams::floor()).unwrap();
        s.put("a", RecordKind::KeyShare, b"share of a").unwrap();
        s.put("b", RecordKind::KeyShare, b"share of b").unwrap();
        // Swap: put a's ciphertext under b.
        let a_raw = s
            .raw()
            .get(record_key("a", RecordKind::KeyShare).unwrap())
            .unwrap()
            .unwrap();
        s.raw()
            .insert(
                record_key("b", RecordKind::KeyShare).unwrap(),
                a_raw.clone(),
            )
            .unwrap();
        assert!(matches!(
            s.get("b", RecordKind::KeyShare),
            Err(ShareStoreError::Tampered(_))
        ));
        // Move under another kind.
        s.raw()
            .insert(
                record_key("a", RecordKind::Presignature).unwrap(),
                a_raw.clone(),
            )
            .unwrap();
        assert!(matches!(
            s.get("a", RecordKind::Presignature),
            Err(ShareStoreError::Tampered(_))
        ));
        // Flip a ciphertext bit.
        let mut t = a_raw.to_vec();
        let n = t.len();
        t[n - 1] ^= 1;
        s.raw()
            .insert(record_key("a", RecordKind::KeyShare).unwrap(), t)
            .unwrap();
        assert!(matches!(
            s.get("a", RecordKind::KeyShare),
            Err(ShareStoreError::Tampered(_))
        ));
    }

    #[test]
    fn parameters_below_the_floor_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let weak = KdfParams {
            memory_kib: 8 * 1024,
            ..KdfParams::floor()
        };
        assert!(matches!(
            ShareStore::open(dir.path(), 1, b"pw", weak),
            Err(ShareStoreError::Kdf(BootstrapError::WeakParameters(_)))
        ));
    }
}
