use super::*;
use crate::webauthn_soft::SoftPasskey;

const RP: &str = "localhost";
const ORIGIN: &str = "http://localhost:8545";

fn origins() -> Vec<String> {
    vec![ORIGIN.to_string()]
}

fn want<'a>(origins: &'a [String], challenge: &'a [u8; 32]) -> Expected<'a> {
    Expected {
        rp_id: RP,
        origins,
        challenge,
    }
}

#[test]
fn es256_and_eddsa_assertions_verify() {
    for ed in [false, true] {
        let pk = SoftPasskey::new(7, ed, RP, ORIGIN);
        let ch = [9u8; 32];
        let (ad, cd, sig) = pk.assert(&ch);
        let o = origins();
        let a = AssertionBytes {
            authenticator_data: &ad,
            client_data_json: &cd,
            signature: &sig,
        };
        assert_eq!(verify_assertion(&pk.public(), &a, &want(&o, &ch)), Ok(0));
    }
}

#[test]
fn cose_round_trip_and_registration() {
    for ed in [false, true] {
        let pk = SoftPasskey::new(3, ed, RP, ORIGIN);
        let key = pk.public();
        assert_eq!(PasskeyKey::from_cose(&key.to_cose()), Ok(key));
        let ch = [1u8; 32];
        let (obj, cd) = pk.register(&ch);
        let o = origins();
        let c = verify_registration(&obj, &cd, &want(&o, &ch)).unwrap();
        assert_eq!(c.key, key);
        assert_eq!(c.credential_id, pk.credential_id);
        assert_eq!(c.attestation_format, "none");
    }
}

/// Each protection, removed one at a time, must be what refuses its case.
#[test]
fn assertion_refusals_table() {
    let ch = [9u8; 32];
    let o = origins();
    let good = SoftPasskey::new(7, false, RP, ORIGIN);
    let mut no_uv = SoftPasskey::new(7, false, RP, ORIGIN);
    no_uv.flags = FLAG_UP;
    let mut no_up = SoftPasskey::new(7, false, RP, ORIGIN);
    no_up.flags = FLAG_UV;
    let other_origin = SoftPasskey::new(7, false, RP, "https://evil.example");
    let other_rp = SoftPasskey::new(7, false, "evil.example", ORIGIN);
    let other_key = SoftPasskey::new(8, false, RP, ORIGIN);
    let cases: Vec<(&str, &SoftPasskey, [u8; 32], &str)> = vec![
        ("another challenge", &good, [8u8; 32], "another challenge"),
        ("user verification off", &no_uv, ch, "user-verified"),
        ("user presence off", &no_up, ch, "user-present"),
        ("wrong origin", &other_origin, ch, "origin"),
        ("wrong RP id", &other_rp, ch, "relying party"),
        ("another key", &other_key, ch, "does not verify"),
    ];
    for (name, pk, signed_challenge, want_err) in cases {
        let (ad, cd, sig) = pk.assert(&signed_challenge);
        let a = AssertionBytes {
            authenticator_data: &ad,
            client_data_json: &cd,
            signature: &sig,
        };
        let err = verify_assertion(&good.public(), &a, &want(&o, &ch)).unwrap_err();
        assert!(err.contains(want_err), "{name}: {err}");
    }
}

#[test]
fn tampered_bytes_are_refused() {
    let ch = [9u8; 32];
    let o = origins();
    let pk = SoftPasskey::new(7, true, RP, ORIGIN);
    let (ad, cd, sig) = pk.assert(&ch);
    // A flipped counter byte (signed) breaks the signature.
    let mut ad2 = ad.clone();
    ad2[36] ^= 1;
    let a = AssertionBytes {
        authenticator_data: &ad2,
        client_data_json: &cd,
        signature: &sig,
    };
    assert!(verify_assertion(&pk.public(), &a, &want(&o, &ch))
        .unwrap_err()
        .contains("does not verify"));
    // The registration type is not an assertion.
    let cd2 = String::from_utf8(cd.clone())
        .unwrap()
        .replace("webauthn.get", "webauthn.create");
    let a = AssertionBytes {
        authenticator_data: &ad,
        client_data_json: cd2.as_bytes(),
        signature: &sig,
    };
    assert!(verify_assertion(&pk.public(), &a, &want(&o, &ch))
        .unwrap_err()
        .contains("type"));
}

#[test]
fn hostile_bytes_never_panic() {
    let o = origins();
    let ch = [0u8; 32];
    let mut seed = 0x1234_5678_u64;
    for len in 0..300usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 33) as u8
            })
            .collect();
        let _ = AuthenticatorData::parse(&bytes);
        let _ = PasskeyKey::from_cose(&bytes);
        let _ = verify_registration(&bytes, b"{}", &want(&o, &ch));
        let mut with_at = vec![0u8; 37];
        with_at[32] = FLAG_AT | FLAG_ED;
        with_at.extend_from_slice(&bytes);
        let _ = AuthenticatorData::parse(&with_at);
    }
    assert!(AuthenticatorData::parse(&[0u8; 3000]).is_err());
}
