//! Console sign-in nonces and sessions, held in this node's memory only (not replicated): a
//! session is valid at the node that opened it, for [`SESSION_TTL_MS`].
//!
//! A sign-in is a passkey assertion over [`mpc_custody::passkey::sign_in_challenge`] of a nonce
//! this node issued (single use, [`NONCE_TTL_MS`]); the session it opens is a random 256-bit
//! bearer token that stands for the member on authenticated reads. It cannot approve anything:
//! every approval is its own passkey assertion over the request's challenge.

use mpc_custody::types::{OrgId, UserId, UserKey};
use rand_core::{OsRng, RngCore};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How long an issued nonce may be used.
pub const NONCE_TTL_MS: u64 = 120_000;
/// How long a console session lasts.
pub const SESSION_TTL_MS: u64 = 15 * 60 * 1000;
/// Most outstanding nonces (beyond it, the oldest are dropped).
pub const MAX_NONCES: usize = 4096;
/// Most open sessions (beyond it, sign-ins are refused until some expire).
pub const MAX_SESSIONS: usize = 1024;

/// A signed-in member.
#[derive(Clone)]
pub struct Session {
    /// Organisation.
    pub org_id: OrgId,
    /// Member.
    pub user_id: UserId,
    /// The member's key (what the read checks use).
    pub member_key: UserKey,
    /// The passkey that signed in (checked again on every use: revoked ends the session).
    pub credential_id: String,
    /// Expiry (ms since the Unix epoch, this node's clock).
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}/{})", self.org_id, self.user_id)
    }
}

#[derive(Default)]
struct Tables {
    nonces: BTreeMap<[u8; 32], u64>,
    sessions: BTreeMap<[u8; 32], Session>,
}

/// The node's console nonces and sessions.
#[derive(Default)]
pub struct Sessions {
    tables: Mutex<Tables>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the tables inconsistent (plain inserts).
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh nonce, valid for [`NONCE_TTL_MS`].
    pub fn issue_nonce(&self, now_ms: u64) -> [u8; 32] {
        let mut nonce = [0u8; 32];
        OsRng.fill_bytes(&mut nonce);
        let mut t = self.lock();
        t.nonces.retain(|_, exp| *exp > now_ms);
        while t.nonces.len() >= MAX_NONCES {
            let oldest = t.nonces.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k);
            match oldest {
                Some(k) => t.nonces.remove(&k),
                None => break,
            };
        }
        t.nonces.insert(nonce, now_ms + NONCE_TTL_MS);
        nonce
    }

    /// Consumes `nonce`: true once, if it was issued here and has not expired.
    pub fn take_nonce(&self, nonce: &[u8; 32], now_ms: u64) -> bool {
        self.lock()
            .nonces
            .remove(nonce)
            .is_some_and(|exp| exp > now_ms)
    }

    /// The table key of a token: its SHA-256, so that looking a token up reveals nothing about
    /// stored tokens through timing.
    fn key_of(token: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(token).into()
    }

    /// Opens a session; returns its token (hex) or why not.
    pub fn open(&self, mut s: Session, now_ms: u64) -> Result<String, String> {
        let mut token = [0u8; 32];
        OsRng.fill_bytes(&mut token);
        s.expires_at_ms = now_ms + SESSION_TTL_MS;
        let mut t = self.lock();
        t.sessions.retain(|_, s| s.expires_at_ms > now_ms);
        if t.sessions.len() >= MAX_SESSIONS {
            return Err("too many console sessions are open on this node; try later".into());
        }
        t.sessions.insert(Self::key_of(&token), s);
        Ok(hex::encode(token))
    }

    /// The session of `token`, if open.
    pub fn get(&self, token: &str, now_ms: u64) -> Option<Session> {
        let token = hex::decode(token).ok().filter(|t| t.len() == 32)?;
        let t = self.lock();
        t.sessions
            .get(&Self::key_of(&token))
            .filter(|s| s.expires_at_ms > now_ms)
            .cloned()
    }

    /// Ends a session.
    pub fn close(&self, token: &str) {
        if let Some(token) = hex::decode(token).ok().filter(|t| t.len() == 32) {
            self.lock().sessions.remove(&Self::key_of(&token));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_and_expire() {
        let s = Sessions::default();
        let n = s.issue_nonce(1000);
        assert!(s.take_nonce(&n, 1001));
        assert!(!s.take_nonce(&n, 1002), "single use");
        let n = s.issue_nonce(1000);
        assert!(!s.take_nonce(&n, 1000 + NONCE_TTL_MS), "expired");
        assert!(!s.take_nonce(&[7u8; 32], 1000), "never issued");
    }

    #[test]
    fn sessions_expire_and_close() {
        let s = Sessions::default();
        let sess = Session {
            org_id: OrgId("acme".into()),
            user_id: UserId("a1".into()),
            member_key: UserKey([1; 32]),
            credential_id: "x".into(),
            expires_at_ms: 0,
        };
        let t = s.open(sess, 1000).unwrap();
        assert!(s.get(&t, 2000).is_some());
        assert!(s.get(&t, 1000 + SESSION_TTL_MS).is_none());
        assert!(s.get("zz", 2000).is_none());
        s.close(&t);
        assert!(s.get(&t, 2000).is_none());
    }
}
