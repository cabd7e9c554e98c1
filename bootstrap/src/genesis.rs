//! The genesis document: who the nodes are, the threshold, and the first admins.
//!
//! Its hash (`SHA-256(GENESIS_HASH || canonical JSON)`, hex) names the network: every signed
//! command carries it, and a node pins it in its data directory on first start and refuses to
//! start on any other genesis afterwards.

use crate::error::BootstrapError;
use crate::identity::IdentityCard;
use crate::sealed::{read_bounded, write_atomic};
use mpc_protocol::domain;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

/// Current genesis format version.
pub const GENESIS_VERSION: u32 = 1;
/// Most nodes in one network.
pub const MAX_NODES: usize = 64;
/// Most genesis admins.
pub const MAX_ADMINS: usize = 64;
/// Largest genesis file read, bytes.
pub const MAX_GENESIS_BYTES: u64 = 1024 * 1024;
/// File in a data directory holding the pinned genesis hash.
pub const PINNED_GENESIS_FILE: &str = "genesis.pinned";

/// An initial admin: may create organisations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAdmin {
    /// Label.
    pub name: String,
    /// Ed25519 public key (hex).
    pub public_key: String,
}

/// The genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Format version.
    pub version: u32,
    /// Human name of the network.
    pub network: String,
    /// Signing threshold t: the number of nodes needed to sign.
    pub threshold: u32,
    /// The nodes, sorted by node id.
    pub nodes: Vec<IdentityCard>,
    /// The initial admins.
    pub admins: Vec<GenesisAdmin>,
}

impl Genesis {
    /// Builds and validates a genesis from identity cards.
    pub fn build(
        network: &str,
        threshold: u32,
        mut nodes: Vec<IdentityCard>,
        admins: Vec<GenesisAdmin>,
    ) -> Result<Self, BootstrapError> {
        nodes.sort_by_key(|c| c.node_id);
        let g = Genesis {
            version: GENESIS_VERSION,
            network: network.to_string(),
            threshold,
            nodes,
            admins,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks every rule: version, 2 ≤ t ≤ n, unique node ids, peer ids, Noise keys and
    /// addresses, valid and unique admin keys.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        let bad = |r: String| BootstrapError::invalid("genesis", r);
        if self.version != GENESIS_VERSION {
            return Err(bad(format!("unsupported version {}", self.version)));
        }
        if self.network.trim().is_empty() || self.network.len() > 64 {
            return Err(bad("network name must be 1 to 64 bytes".into()));
        }
        let n = self.nodes.len();
        if n == 0 || n > MAX_NODES {
            return Err(bad(format!("needs 1 to {MAX_NODES} nodes, got {n}")));
        }
        if self.threshold < 2 {
            return Err(bad(format!("threshold t = {} is below 2", self.threshold)));
        }
        if self.threshold as usize > n {
            return Err(bad(format!(
                "threshold t = {} exceeds the {n} nodes",
                self.threshold
            )));
        }
        let mut seen = BTreeSet::new();
        for c in &self.nodes {
            c.validate()?;
            for (kind, v) in [
                ("node id", c.node_id.to_string()),
                ("peer id", c.peer_id.clone()),
                ("noise key", c.noise_public_key.clone()),
                ("p2p address", c.p2p_addr.clone()),
                ("rpc address", c.rpc_addr.clone()),
                ("rpc TLS certificate", c.rpc_tls_sha256.clone()),
            ] {
                if !seen.insert((kind, v.clone())) {
                    return Err(bad(format!("duplicate {kind} {v}")));
                }
            }
        }
        if self.nodes.windows(2).any(|w| w[0].node_id >= w[1].node_id) {
            return Err(bad("nodes must be sorted by node id".into()));
        }
        if self.admins.is_empty() || self.admins.len() > MAX_ADMINS {
            return Err(bad(format!("needs 1 to {MAX_ADMINS} admins")));
        }
        let mut keys = BTreeSet::new();
        for a in &self.admins {
            if a.name.trim().is_empty() || a.name.len() > 64 {
                return Err(bad("admin name must be 1 to 64 bytes".into()));
            }
            let bytes: [u8; 32] = hex::decode(&a.public_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad(format!("admin '{}' key must be 32 bytes of hex", a.name)))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| bad(format!("admin '{}' key is not an Ed25519 key", a.name)))?;
            if !keys.insert(a.public_key.clone()) {
                return Err(bad(format!("duplicate admin key {}", a.public_key)));
            }
        }
        Ok(())
    }

    /// The genesis hash (hex).
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(domain::GENESIS_HASH);
        h.update(&json);
        hex::encode(h.finalize())
    }

    /// The card of node `node_id`.
    pub fn node(&self, node_id: u64) -> Option<&IdentityCard> {
        self.nodes.iter().find(|c| c.node_id == node_id)
    }

    /// Reads and validates a genesis file.
    pub fn load(path: &Path) -> Result<Self, BootstrapError> {
        let text = read_bounded(path, MAX_GENESIS_BYTES)?;
        let g: Genesis = serde_json::from_str(&text)
            .map_err(|e| BootstrapError::invalid("genesis", e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Writes the genesis as pretty JSON.
    pub fn save(&self, path: &Path, overwrite: bool) -> Result<(), BootstrapError> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| BootstrapError::invalid("genesis", e.to_string()))?;
        write_atomic(path, &json, overwrite)
    }
}

/// Pins `hash` in `data_dir` on first use; afterwards refuses any other hash.
pub fn pin_genesis(data_dir: &Path, hash: &str) -> Result<(), BootstrapError> {
    let path = data_dir.join(PINNED_GENESIS_FILE);
    if path.exists() {
        let pinned = read_bounded(&path, 1024)?.trim().to_string();
        if pinned != hash {
            return Err(BootstrapError::GenesisMismatch {
                pinned,
                found: hash.to_string(),
            });
        }
        return Ok(());
    }
    write_atomic(&path, format!("{hash}\n").as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: u64) -> IdentityCard {
        let mut seed = [id as u8 + 100; 32];
        let kp = libp2p_identity::Keypair::ed25519_from_bytes(&mut seed).unwrap();
        IdentityCard {
            node_id: id,
            peer_id: kp.public().to_peer_id().to_string(),
            noise_public_key: hex::encode([id as u8; 32]),
            p2p_addr: format!("/ip4/127.0.0.1/tcp/{}", 7000 + id),
            rpc_addr: format!("127.0.0.1:{}", 8000 + id),
            rpc_tls_sha256: hex::encode([id as u8 + 50; 32]),
        }
    }

    fn admin() -> GenesisAdmin {
        let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        GenesisAdmin {
            name: "root".into(),
            public_key: hex::encode(k.verifying_key().to_bytes()),
        }
    }

    #[test]
    fn build_validates_table() {
        let cards = vec![card(1), card(2), card(3)];
        assert!(Genesis::build("net", 2, cards.clone(), vec![admin()]).is_ok());
        let mut dup_id = cards.clone();
        dup_id[1].node_id = 1;
        let mut dup_peer = cards.clone();
        dup_peer[1].peer_id = dup_peer[0].peer_id.clone();
        let mut dup_noise = cards.clone();
        dup_noise[2].noise_public_key = dup_noise[0].noise_public_key.clone();
        type Case = (
            &'static str,
            u32,
            Vec<IdentityCard>,
            Vec<GenesisAdmin>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("t < 2", 1, cards.clone(), vec![admin()], "below 2"),
            ("t > n", 4, cards.clone(), vec![admin()], "exceeds"),
            (
                "duplicate id",
                2,
                dup_id,
                vec![admin()],
                "duplicate node id",
            ),
            (
                "duplicate peer",
                2,
                dup_peer,
                vec![admin()],
                "duplicate peer id",
            ),
            (
                "duplicate noise",
                2,
                dup_noise,
                vec![admin()],
                "duplicate noise key",
            ),
            ("no admin", 2, cards.clone(), vec![], "admins"),
            (
                "duplicate admin",
                2,
                cards.clone(),
                vec![admin(), admin()],
                "duplicate admin",
            ),
        ];
        for (name, t, cards, admins, want) in cases {
            let err = Genesis::build("net", t, cards, admins)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let g = Genesis::build("net", 2, vec![card(1), card(2), card(3)], vec![admin()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("genesis.json");
        g.save(&p, false).unwrap();
        let back = Genesis::load(&p).unwrap();
        assert_eq!(back.hash(), g.hash());
        let mut other = g.clone();
        other.threshold = 3;
        assert_ne!(other.hash(), g.hash());
    }

    #[test]
    fn pinning_refuses_another_genesis() {
        let dir = tempfile::tempdir().unwrap();
        pin_genesis(dir.path(), "aa").unwrap();
        pin_genesis(dir.path(), "aa").unwrap();
        assert!(matches!(
            pin_genesis(dir.path(), "bb"),
            Err(BootstrapError::GenesisMismatch { .. })
        ));
    }
}
