//! WebAuthn (passkey) verification, written against the W3C *Web Authentication Level 3*
//! recommendation: §7.1 "Registering a New Credential" and §7.2 "Verifying an Authentication
//! Assertion". Pure: every check takes what it compares against as a parameter.
//!
//! Why our own verifier (decision 0022): the challenge is not a random server nonce but a
//! domain-separated hash of what is being approved ([`crate::passkey`]), and *every node* and
//! every signer re-checks the assertion against its own state; the WebAuthn server crates assume
//! a session-holding server and an OpenSSL stack. The cryptography is not ours: P-256 ECDSA from
//! `p256` (RustCrypto), Ed25519 from `ed25519-dalek`, COSE keys from `coset`, CBOR from
//! `ciborium`.
//!
//! What is checked (the step numbers are §7.2's):
//! - clientDataJSON parses; `type` is `webauthn.get` (`webauthn.create` at registration) (step 11);
//!   `challenge` equals the expected one (12); `origin` is in the organisation's allow-list (13);
//!   `crossOrigin` is not true;
//! - authenticatorData: `rpIdHash` = SHA-256(RP id) (15); user present (16) and user verified
//!   (17) flags set;
//! - the signature verifies over `authenticatorData ‖ SHA-256(clientDataJSON)` with the
//!   credential's public key (20–21): ES256 (DER-encoded ECDSA P-256 / SHA-256) or EdDSA
//!   (Ed25519, strict).
//! - The signature counter (22) is returned for the caller: zero from synced passkeys is
//!   accepted; replay protection comes from the single-use challenge.
//!
//! Attestation statements are not verified (attestation conveyance `none`): the format is
//! recorded; a credential's trust comes from the admin-adopted invitation it was registered with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use coset::{iana, CborSerializable, CoseKey, KeyType, Label, RegisteredLabelWithPrivate};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Largest authenticatorData accepted (attested credential data with a 1 KiB credential id
/// fits; extensions beyond that are refused).
pub const MAX_AUTHENTICATOR_DATA_BYTES: usize = 2048;
/// Largest clientDataJSON accepted.
pub const MAX_CLIENT_DATA_BYTES: usize = 2048;
/// Largest attestation object accepted (a packed statement with a certificate chain fits).
pub const MAX_ATTESTATION_OBJECT_BYTES: usize = 16 * 1024;
/// Largest credential id (the spec's limit is 1023 bytes).
pub const MAX_CREDENTIAL_ID_BYTES: usize = 1023;
/// Largest assertion signature (DER ECDSA is at most 72 bytes; Ed25519 64).
pub const MAX_SIGNATURE_BYTES: usize = 128;

/// authenticatorData flag: user present.
pub const FLAG_UP: u8 = 0x01;
/// authenticatorData flag: user verified.
pub const FLAG_UV: u8 = 0x04;
/// authenticatorData flag: attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// authenticatorData flag: extension data included.
pub const FLAG_ED: u8 = 0x80;

/// A credential public key, from its COSE encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyKey {
    /// ES256: ECDSA on P-256 with SHA-256 (COSE alg -7), as uncompressed affine coordinates.
    Es256 {
        /// x coordinate.
        x: [u8; 32],
        /// y coordinate.
        y: [u8; 32],
    },
    /// EdDSA with Ed25519 (COSE alg -8).
    Ed25519([u8; 32]),
}

impl PasskeyKey {
    /// The COSE algorithm number (-7 or -8).
    pub fn alg(&self) -> i64 {
        match self {
            PasskeyKey::Es256 { .. } => -7,
            PasskeyKey::Ed25519(_) => -8,
        }
    }

    /// The algorithm's name (`ES256`, `EdDSA`).
    pub fn alg_name(&self) -> &'static str {
        match self {
            PasskeyKey::Es256 { .. } => "ES256",
            PasskeyKey::Ed25519(_) => "EdDSA",
        }
    }

    /// Parses a COSE_Key (RFC 9053 §7.1 EC2 P-256, RFC 8037 OKP Ed25519).
    pub fn from_cose(bytes: &[u8]) -> Result<Self, String> {
        let key = CoseKey::from_slice(bytes).map_err(|e| format!("bad COSE key: {e}"))?;
        let param = |label: i64| {
            key.params
                .iter()
                .find(|(l, _)| *l == Label::Int(label))
                .map(|(_, v)| v)
        };
        let bytes32 = |label: i64| -> Result<[u8; 32], String> {
            param(label)
                .and_then(|v| v.as_bytes())
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| format!("COSE key parameter {label} must be 32 bytes"))
        };
        let crv = param(-1)
            .and_then(|v| v.as_integer())
            .and_then(|i| i64::try_from(i).ok());
        let alg = match &key.alg {
            Some(RegisteredLabelWithPrivate::Assigned(a)) => Some(*a),
            None => None,
            Some(_) => return Err("unsupported COSE algorithm".into()),
        };
        match (&key.kty, alg, crv) {
            (KeyType::Assigned(iana::KeyType::EC2), Some(iana::Algorithm::ES256), Some(1)) => {
                let (x, y) = (bytes32(-2)?, bytes32(-3)?);
                p256_key(&x, &y)?;
                Ok(PasskeyKey::Es256 { x, y })
            }
            (KeyType::Assigned(iana::KeyType::OKP), Some(iana::Algorithm::EdDSA), Some(6)) => {
                let x = bytes32(-2)?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| "Ed25519 key is not a valid point")?;
                Ok(PasskeyKey::Ed25519(x))
            }
            _ => Err("only ES256 (EC2 P-256) and EdDSA (OKP Ed25519) passkeys are accepted".into()),
        }
    }

    /// The canonical COSE encoding of this key (what the state stores).
    pub fn to_cose(&self) -> Vec<u8> {
        use coset::CoseKeyBuilder;
        let key = match self {
            PasskeyKey::Es256 { x, y } => {
                CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.to_vec(), y.to_vec())
                    .algorithm(iana::Algorithm::ES256)
                    .build()
            }
            PasskeyKey::Ed25519(x) => CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    ciborium::Value::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(
                    iana::OkpKeyParameter::X as i64,
                    ciborium::Value::Bytes(x.to_vec()),
                )
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        };
        // Encoding a key we built ourselves cannot fail; an empty vector would fail to parse.
        key.to_vec().unwrap_or_default()
    }

    /// Verifies `signature` over `message` (§7.2 step 21).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        match self {
            PasskeyKey::Es256 { x, y } => {
                use p256::ecdsa::signature::Verifier;
                let key = p256_key(x, y)?;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| "ES256 signature is not a DER ECDSA signature")?;
                key.verify(message, &sig)
                    .map_err(|_| "passkey signature does not verify".to_string())
            }
            PasskeyKey::Ed25519(x) => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(x)
                    .map_err(|_| "Ed25519 key is not a valid point")?;
                let sig: [u8; 64] = signature
                    .try_into()
                    .map_err(|_| "EdDSA signature must be 64 bytes")?;
                key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| "passkey signature does not verify".to_string())
            }
        }
    }
}

fn p256_key(x: &[u8; 32], y: &[u8; 32]) -> Result<p256::ecdsa::VerifyingKey, String> {
    let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
    p256::ecdsa::VerifyingKey::from_encoded_point(&point)
        .map_err(|_| "P-256 key is not a point on the curve".to_string())
}

/// authenticatorData (§6.1), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP id the authenticator scoped the credential to.
    pub rp_id_hash: [u8; 32],
    /// Flags byte.
    pub flags: u8,
    /// Signature counter (0 for synced passkeys).
    pub sign_count: u32,
    /// Attested credential data (registration only).
    pub attested: Option<AttestedCredential>,
}

/// Attested credential data (§6.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// Authenticator model id.
    pub aaguid: [u8; 16],
    /// Credential id.
    pub credential_id: Vec<u8>,
    /// The credential public key.
    pub key: PasskeyKey,
}

impl AuthenticatorData {
    /// Parses authenticatorData; bounded, never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_AUTHENTICATOR_DATA_BYTES {
            return Err(format!(
                "authenticatorData exceeds {MAX_AUTHENTICATOR_DATA_BYTES} bytes"
            ));
        }
        let fixed = bytes
            .get(..37)
            .ok_or("authenticatorData is shorter than 37 bytes")?;
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&fixed[..32]);
        let flags = fixed[32];
        let sign_count = u32::from_be_bytes([fixed[33], fixed[34], fixed[35], fixed[36]]);
        let mut rest = &bytes[37..];
        let attested = if flags & FLAG_AT != 0 {
            let aaguid: [u8; 16] = rest
                .get(..16)
                .and_then(|b| b.try_into().ok())
                .ok_or("attested credential data is truncated")?;
            let len = rest
                .get(16..18)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or("attested credential data is truncated")?;
            if len == 0 || len > MAX_CREDENTIAL_ID_BYTES {
                return Err(format!(
                    "credential id must be 1 to {MAX_CREDENTIAL_ID_BYTES} bytes"
                ));
            }
            let credential_id = rest
                .get(18..18 + len)
                .ok_or("credential id is truncated")?
                .to_vec();
            rest = &rest[18 + len..];
            // The COSE key is one CBOR item; find where it ends by decoding it.
            let mut reader = rest;
            let _: ciborium::Value = ciborium::de::from_reader(&mut reader)
                .map_err(|e| format!("credential public key is not CBOR: {e}"))?;
            let used = rest.len() - reader.len();
            let key = PasskeyKey::from_cose(&rest[..used])?;
            rest = reader;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                key,
            })
        } else {
            None
        };
        if flags & FLAG_ED != 0 {
            let mut reader = rest;
            let _: ciborium::Value = ciborium::de::from_reader(&mut reader)
                .map_err(|e| format!("extension data is not CBOR: {e}"))?;
            rest = reader;
        }
        if !rest.is_empty() {
            return Err("authenticatorData has trailing bytes".into());
        }
        Ok(AuthenticatorData {
            rp_id_hash,
            flags,
            sign_count,
            attested,
        })
    }
}

/// The fields of clientDataJSON we check (§5.8.1); others are ignored as the spec requires.
#[derive(Debug, Clone, Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(default, rename = "crossOrigin")]
    cross_origin: Option<bool>,
}

/// What a ceremony must match: the relying party, its allowed origins and the challenge.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The RP id (a domain, e.g. `custody.example.com` or `localhost`).
    pub rp_id: &'a str,
    /// Allowed origins (`https://custody.example.com`, `http://localhost:8545` …).
    pub origins: &'a [String],
    /// The challenge the ceremony must carry.
    pub challenge: &'a [u8; 32],
}

/// Checks clientDataJSON (§7.2 steps 11–13): type, challenge, origin, not cross-origin.
fn check_client_data(json: &[u8], kind: &str, want: &Expected<'_>) -> Result<(), String> {
    if json.len() > MAX_CLIENT_DATA_BYTES {
        return Err(format!(
            "clientDataJSON exceeds {MAX_CLIENT_DATA_BYTES} bytes"
        ));
    }
    let cd: ClientData =
        serde_json::from_slice(json).map_err(|e| format!("clientDataJSON is malformed: {e}"))?;
    if cd.kind != kind {
        return Err(format!(
            "clientDataJSON type is '{}', not '{kind}'",
            cd.kind
        ));
    }
    let challenge = URL_SAFE_NO_PAD
        .decode(cd.challenge.as_bytes())
        .map_err(|_| "clientDataJSON challenge is not base64url")?;
    if challenge.as_slice() != want.challenge.as_slice() {
        return Err(
            "the passkey signed another challenge (another request, digest, policy \
                    version or decision)"
                .into(),
        );
    }
    if !want.origins.iter().any(|o| o == &cd.origin) {
        return Err(format!(
            "origin '{}' is not in the organisation's allowed origins",
            truncate(&cd.origin)
        ));
    }
    if cd.cross_origin == Some(true) {
        return Err("cross-origin ceremonies are refused".into());
    }
    Ok(())
}

/// Checks authenticatorData flags and RP id hash (§7.2 steps 15–17).
fn check_auth_data(ad: &AuthenticatorData, rp_id: &str) -> Result<(), String> {
    if ad.rp_id_hash != <[u8; 32]>::from(Sha256::digest(rp_id.as_bytes())) {
        return Err("authenticatorData is for another relying party (RP id hash)".into());
    }
    if ad.flags & FLAG_UP == 0 {
        return Err("the user-present flag is not set".into());
    }
    if ad.flags & FLAG_UV == 0 {
        return Err("the user-verified flag is not set (user verification is required)".into());
    }
    Ok(())
}

/// An assertion as the browser returns it (`navigator.credentials.get`), raw bytes.
#[derive(Debug, Clone, Copy)]
pub struct AssertionBytes<'a> {
    /// authenticatorData.
    pub authenticator_data: &'a [u8],
    /// clientDataJSON.
    pub client_data_json: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}

/// Verifies an authentication assertion by `key` (§7.2 steps 11–21). Returns the
/// authenticator's signature counter.
pub fn verify_assertion(
    key: &PasskeyKey,
    a: &AssertionBytes<'_>,
    want: &Expected<'_>,
) -> Result<u32, String> {
    if a.signature.len() > MAX_SIGNATURE_BYTES {
        return Err(format!("signature exceeds {MAX_SIGNATURE_BYTES} bytes"));
    }
    check_client_data(a.client_data_json, "webauthn.get", want)?;
    let ad = AuthenticatorData::parse(a.authenticator_data)?;
    if ad.attested.is_some() {
        return Err("an assertion must not carry attested credential data".into());
    }
    check_auth_data(&ad, want.rp_id)?;
    key.verify(
        &signed_bytes(a.authenticator_data, a.client_data_json),
        a.signature,
    )?;
    Ok(ad.sign_count)
}

/// `authenticatorData ‖ SHA-256(clientDataJSON)`: what an assertion signs.
pub fn signed_bytes(authenticator_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(authenticator_data.len() + 32);
    m.extend_from_slice(authenticator_data);
    m.extend_from_slice(&Sha256::digest(client_data_json));
    m
}

/// A credential created by `navigator.credentials.create`, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// Credential id.
    pub credential_id: Vec<u8>,
    /// Its public key.
    pub key: PasskeyKey,
    /// The attestation statement format (`none`, `packed` …), recorded, not verified.
    pub attestation_format: String,
    /// Authenticator model id.
    pub aaguid: [u8; 16],
    /// The authenticator's signature counter at creation.
    pub sign_count: u32,
}

/// Verifies a registration (§7.1 steps 5–19, attestation statement not verified): the
/// clientDataJSON (`webauthn.create`, challenge, origin), the RP id hash, UP and UV flags and
/// the attested credential (ES256 or EdDSA).
pub fn verify_registration(
    attestation_object: &[u8],
    client_data_json: &[u8],
    want: &Expected<'_>,
) -> Result<NewCredential, String> {
    if attestation_object.len() > MAX_ATTESTATION_OBJECT_BYTES {
        return Err(format!(
            "attestation object exceeds {MAX_ATTESTATION_OBJECT_BYTES} bytes"
        ));
    }
    check_client_data(client_data_json, "webauthn.create", want)?;
    let obj: ciborium::Value = ciborium::de::from_reader(attestation_object)
        .map_err(|e| format!("attestation object is not CBOR: {e}"))?;
    let map = obj.as_map().ok_or("attestation object is not a CBOR map")?;
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v)
    };
    let fmt = field("fmt")
        .and_then(|v| v.as_text())
        .filter(|f| !f.is_empty() && f.len() <= 32 && f.is_ascii())
        .ok_or("attestation object has no format")?
        .to_string();
    let auth_data = field("authData")
        .and_then(|v| v.as_bytes())
        .ok_or("attestation object has no authData")?;
    let ad = AuthenticatorData::parse(auth_data)?;
    check_auth_data(&ad, want.rp_id)?;
    let cred = ad
        .attested
        .ok_or("registration carries no attested credential data")?;
    Ok(NewCredential {
        credential_id: cred.credential_id,
        key: cred.key,
        attestation_format: fmt,
        aaguid: cred.aaguid,
        sign_count: ad.sign_count,
    })
}

/// base64url (no padding) of bytes, as WebAuthn and the JSON API carry them.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (no padding), bounded by `max_bytes` before decoding.
pub fn from_b64url(what: &str, s: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
    if s.len() > max_bytes.div_ceil(3) * 4 + 4 {
        return Err(format!("{what} exceeds {max_bytes} bytes"));
    }
    let b = URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| format!("{what} is not base64url (no padding)"))?;
    if b.len() > max_bytes {
        return Err(format!("{what} exceeds {max_bytes} bytes"));
    }
    Ok(b)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests;
