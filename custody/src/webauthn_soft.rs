//! TEST ONLY: a software WebAuthn authenticator (ES256 or EdDSA) that produces registrations
//! and assertions byte for byte as the spec lays them out, with knobs to produce the bad ones
//! (flags off, another origin, another RP id). The browser tests use Chromium's virtual
//! authenticator instead; this one lets the state machine's tests run without a browser.

use crate::webauthn::{b64url, signed_bytes, PasskeyKey, FLAG_AT, FLAG_UP, FLAG_UV};
use sha2::{Digest, Sha256};

/// The key a soft authenticator holds.
pub enum SoftKey {
    /// P-256.
    Es256(p256::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
}

/// A software passkey.
pub struct SoftPasskey {
    /// Its key.
    pub key: SoftKey,
    /// Credential id.
    pub credential_id: Vec<u8>,
    /// RP id it is scoped to.
    pub rp_id: String,
    /// Origin its "browser" reports.
    pub origin: String,
    /// Flags it sets (UP | UV by default).
    pub flags: u8,
    /// Counter it reports.
    pub sign_count: u32,
}

impl SoftPasskey {
    /// An ES256 (`seed` fixes the key) or EdDSA passkey for `rp_id` used from `origin`.
    pub fn new(seed: u8, ed25519: bool, rp_id: &str, origin: &str) -> Self {
        let key = if ed25519 {
            SoftKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
        } else {
            let mut b = [seed; 32];
            b[0] = 1;
            SoftKey::Es256(p256::ecdsa::SigningKey::from_slice(&b).expect("valid scalar"))
        };
        SoftPasskey {
            key,
            credential_id: vec![seed; 16],
            rp_id: rp_id.into(),
            origin: origin.into(),
            flags: FLAG_UP | FLAG_UV,
            sign_count: 0,
        }
    }

    /// Its public key.
    pub fn public(&self) -> PasskeyKey {
        match &self.key {
            SoftKey::Es256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(p.x().expect("uncompressed"));
                y.copy_from_slice(p.y().expect("uncompressed"));
                PasskeyKey::Es256 { x, y }
            }
            SoftKey::Ed25519(k) => PasskeyKey::Ed25519(k.verifying_key().to_bytes()),
        }
    }

    /// Credential id, base64url.
    pub fn id_b64(&self) -> String {
        b64url(&self.credential_id)
    }

    fn client_data(&self, kind: &str, challenge: &[u8]) -> Vec<u8> {
        format!(
            r#"{{"type":"{kind}","challenge":"{}","origin":"{}","crossOrigin":false}}"#,
            b64url(challenge),
            self.origin
        )
        .into_bytes()
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut ad = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        ad.push(flags);
        ad.extend_from_slice(&self.sign_count.to_be_bytes());
        if attested {
            ad.extend_from_slice(&[0u8; 16]);
            ad.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            ad.extend_from_slice(&self.credential_id);
            ad.extend_from_slice(&self.public().to_cose());
        }
        ad
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.key {
            SoftKey::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            SoftKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(msg).to_bytes().to_vec()
            }
        }
    }

    /// `navigator.credentials.create`: (attestation object, clientDataJSON), format `none`.
    pub fn register(&self, challenge: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
        let cd = self.client_data("webauthn.create", challenge);
        let ad = self.auth_data(self.flags | FLAG_AT, true);
        let obj = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("fmt".into()),
                ciborium::Value::Text("none".into()),
            ),
            (
                ciborium::Value::Text("attStmt".into()),
                ciborium::Value::Map(vec![]),
            ),
            (
                ciborium::Value::Text("authData".into()),
                ciborium::Value::Bytes(ad),
            ),
        ]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&obj, &mut bytes).expect("encode");
        (bytes, cd)
    }

    /// `navigator.credentials.get`: (authenticatorData, clientDataJSON, signature).
    pub fn assert(&self, challenge: &[u8; 32]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let cd = self.client_data("webauthn.get", challenge);
        let ad = self.auth_data(self.flags, false);
        let sig = self.sign(&signed_bytes(&ad, &cd));
        (ad, cd, sig)
    }
}
