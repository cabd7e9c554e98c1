//! Passkeys: invitation → registration → approval, checked at apply and again by every signer
//! against evidence anchored in the genesis. Each refusal here was seen failing with its check
//! removed (see the issue note).

use super::custody::{approve, org, setup, submit, two_of_three, H};
use super::*;
use crate::passkey::{registration_challenge, Decision, PasskeyDecision};
use crate::webauthn::{b64url, FLAG_UP};
use crate::webauthn_soft::SoftPasskey;
use crate::RequestStatus;

const RP: &str = "localhost";
const ORIGIN: &str = "http://localhost:21800";

impl H {
    fn passkey(&mut self, d: &PasskeyDecision) -> CommandOutcome {
        self.idx += 1;
        self.s.apply(
            EntryContext {
                log_index: self.idx,
            },
            &LogCommand {
                proposed_at_ms: 1_000_000 + self.idx * 1000 + self.shift_ms,
                proposal: Proposal::Passkey(d.clone()),
            },
        )
    }
}

fn webauthn_set(origins: &[&str]) -> Action {
    Action::WebauthnSet {
        org_id: org(),
        rp_id: RP.into(),
        origins: origins.iter().map(|o| o.to_string()).collect(),
    }
}

/// Invites `user` with invitation key `invite_seed` and registers `pk` through it.
fn invite_and_register(h: &mut H, user: &str, invite_seed: u8, pk: &SoftPasskey) -> CommandOutcome {
    h.ok(
        1,
        &format!("inv-{user}-{invite_seed}"),
        Action::PasskeyInvite {
            org_id: org(),
            user_id: UserId(user.into()),
            invite_key: super::pk(invite_seed),
            ttl_secs: 3600,
        },
    );
    register(h, user, invite_seed, pk)
}

fn register(h: &mut H, user: &str, invite_seed: u8, pk: &SoftPasskey) -> CommandOutcome {
    let ch = registration_challenge(CLUSTER, &org(), user, &super::pk(invite_seed));
    let (obj, cd) = pk.register(&ch);
    h.user(
        invite_seed,
        &format!("reg-{user}-{}-{}-{}", pk.id_b64(), pk.origin, h.idx),
        Action::PasskeyRegister {
            org_id: org(),
            user_id: UserId(user.into()),
            attestation_object: b64url(&obj),
            client_data_json: b64url(&cd),
        },
    )
}

/// `pk`'s decision on `req`, signing the challenge of (`digest`, `version`).
fn decide(
    pk: &SoftPasskey,
    req: &crate::Request,
    digest: &str,
    version: u32,
    decision: Decision,
) -> PasskeyDecision {
    let reason = (decision == Decision::Reject).then(|| "not ours".to_string());
    let mut d = PasskeyDecision {
        org_id: org(),
        request_id: req.request_id.clone(),
        decision,
        reason,
        credential_id: pk.id_b64(),
        authenticator_data: String::new(),
        client_data_json: String::new(),
        signature: String::new(),
    };
    let (ad, cd, sig) = pk.assert(&d.challenge(CLUSTER, digest, version));
    d.authenticator_data = b64url(&ad);
    d.client_data_json = b64url(&cd);
    d.signature = b64url(&sig);
    d
}

fn approve_with(pk: &SoftPasskey, req: &crate::Request) -> PasskeyDecision {
    decide(
        pk,
        req,
        &req.intent_digest,
        req.policy.version,
        Decision::Approve,
    )
}

/// An organisation with a relying party, a1 holding an ES256 passkey and a2 an EdDSA one.
fn with_passkeys() -> (H, crate::types::WalletId, Vec<u8>, SoftPasskey, SoftPasskey) {
    let (mut h, wallet, key) = setup(two_of_three());
    h.ok(1, "rp", webauthn_set(&[ORIGIN]));
    let p1 = SoftPasskey::new(31, false, RP, ORIGIN);
    let p2 = SoftPasskey::new(32, true, RP, ORIGIN);
    let out = invite_and_register(&mut h, "a1", 51, &p1);
    assert!(out.error.is_none(), "{:?}", out.error);
    let out = invite_and_register(&mut h, "a2", 52, &p2);
    assert!(out.error.is_none(), "{:?}", out.error);
    (h, wallet, key, p1, p2)
}

#[test]
fn two_passkeys_approve_and_every_signer_reverifies() {
    let (mut h, wallet, key, p1, p2) = with_passkeys();
    let m = h.s.member(&org(), "a1").unwrap();
    assert_eq!(m.passkeys.len(), 1);
    assert_eq!(m.passkeys[0].alg, "ES256");
    assert_eq!(m.passkeys[0].attestation_format, "none");
    assert!(m.invitations.is_empty(), "the invitation is used up");
    let req = submit(&mut h, &wallet, &key, 1_000_000, "r1");
    let out = h.passkey(&approve_with(&p1, &req));
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(h.request(&req.request_id).status, RequestStatus::Pending);
    // The same assertion again: refused before the log (no entry bought by a replay)...
    let e =
        h.s.passkey_decision_check(&approve_with(&p1, &req))
            .unwrap_err();
    assert!(e.contains("already approved"), "{e}");
    // ... and at apply, should a node propose it anyway: the member already counts.
    let again = h.passkey(&approve_with(&p1, &req));
    assert!(again.error.unwrap().contains("already approved"));
    let out = h.passkey(&approve_with(&p2, &req));
    assert!(out.error.is_none(), "{:?}", out.error);
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    let me = r.attempts[0].signers[0];
    h.s.signing_job(&req.request_id, me).unwrap();
    let audit = h.s.audit().last().unwrap();
    assert_eq!(audit.action, "request_approve_passkey");

    // Invariant 2, for passkeys: a state handed over by one peer whose passkey record was
    // swapped for an attacker's key (with a matching assertion) makes no signing job: the
    // signer re-derives the key from the invitation-signed registration.
    let attacker = SoftPasskey::new(32, false, RP, ORIGIN); // same credential id, other key
    let mut forged = h.s.clone();
    let mut m2 = forged.member(&org(), "a2").unwrap().clone();
    m2.passkeys[0].public_key = hex::encode(attacker.public().to_cose());
    forged.force_member_for_tests(m2);
    let mut fr = r.clone();
    fr.approvals.insert(
        UserId("a2".into()),
        crate::request::Approval::Passkey(approve_with(&attacker, &req)),
    );
    forged.force_request_for_tests(fr);
    let e = forged.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("valid approvals"), "{e}");
    // ... nor one whose invitation lost its admin adoption.
    let mut forged = h.s.clone();
    let mut m2 = forged.member(&org(), "a2").unwrap().clone();
    m2.passkeys[0].invitation.adoption = None;
    forged.force_member_for_tests(m2);
    let e = forged.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("valid approvals"), "{e}");
    // ... nor one whose relying party (allowed origins) was not adopted by an admin quorum.
    let mut forged = h.s.clone();
    forged.force_org_webauthn_for_tests(&org(), None);
    let e = forged.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("valid approvals"), "{e}");
    // A revoked passkey's approval no longer counts for a signer.
    let mut hh = H {
        s: h.s.clone(),
        idx: h.idx,
        shift_ms: 0,
    };
    hh.ok(
        1,
        "revoke",
        Action::PasskeyRevoke {
            org_id: org(),
            user_id: UserId("a2".into()),
            credential_id: p2.id_b64(),
        },
    );
    let e = hh.s.signing_job(&req.request_id, me).unwrap_err();
    assert!(e.contains("valid approvals"), "{e}");
}

#[test]
fn passkey_and_key_approvals_count_together() {
    let (mut h, wallet, key, p1, _) = with_passkeys();
    let req = submit(&mut h, &wallet, &key, 1_000_000, "r1");
    let digest = req.intent_digest.clone();
    // a1 by passkey, then a1 by key: one member counts once.
    assert!(h.passkey(&approve_with(&p1, &req)).error.is_none());
    assert!(approve(&mut h, 11, &req, &digest)
        .error
        .unwrap()
        .contains("already approved"));
    // a3 (key only) makes two.
    assert!(approve(&mut h, 13, &req, &digest).error.is_none());
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    h.s.signing_job(&req.request_id, r.attempts[0].signers[0])
        .unwrap();
}

#[test]
fn passkey_decisions_refused_at_apply() {
    let (mut h, wallet, key, p1, p2) = with_passkeys();
    let req = submit(&mut h, &wallet, &key, 1_000_000, "r1");
    let other = submit(&mut h, &wallet, &key, 2_000_000, "r2");
    let digest = req.intent_digest.clone();
    let v = req.policy.version;
    let mut no_uv = SoftPasskey::new(31, false, RP, ORIGIN);
    no_uv.flags = FLAG_UP;
    let evil_origin = SoftPasskey::new(31, false, RP, "http://localhost:6666");
    let stranger = SoftPasskey::new(40, false, RP, ORIGIN);
    // An assertion made for another request, presented for this one.
    let mut cross = approve_with(&p1, &other);
    cross.request_id = req.request_id.clone();
    // An approval whose signed challenge is a rejection's.
    let mut flipped = decide(&p1, &req, &digest, v, Decision::Reject);
    flipped.decision = Decision::Approve;
    flipped.reason = None;
    let cases: Vec<(&str, PasskeyDecision, &str)> = vec![
        ("another request's challenge", cross, "another challenge"),
        ("a rejection turned approval", flipped, "another challenge"),
        (
            "another intent digest",
            decide(&p1, &req, &"00".repeat(32), v, Decision::Approve),
            "another challenge",
        ),
        (
            "an older policy version",
            decide(&p1, &req, &digest, v - 1, Decision::Approve),
            "another challenge",
        ),
        (
            "user verification off",
            approve_with(&no_uv, &req),
            "user-verified",
        ),
        (
            "an origin not allowed",
            approve_with(&evil_origin, &req),
            "origin",
        ),
        (
            "an unknown passkey",
            approve_with(&stranger, &req),
            "no member",
        ),
    ];
    for (name, d, want) in cases {
        let out = h.passkey(&d);
        let e = out.error.unwrap_or_default();
        assert!(e.contains(want), "{name}: {e}");
    }
    assert!(h.request(&req.request_id).approvals.is_empty());
    // A revoked passkey is refused.
    h.ok(
        1,
        "revoke",
        Action::PasskeyRevoke {
            org_id: org(),
            user_id: UserId("a2".into()),
            credential_id: p2.id_b64(),
        },
    );
    let e = h.passkey(&approve_with(&p2, &req)).error.unwrap();
    assert!(e.contains("revoked"), "{e}");
    // A passkey rejection rejects.
    let out = h.passkey(&decide(&p1, &req, &digest, v, Decision::Reject));
    assert!(out.error.is_none(), "{:?}", out.error);
    assert!(matches!(
        h.request(&req.request_id).status,
        RequestStatus::Rejected { .. }
    ));
    // Every refusal was audited.
    let refused =
        h.s.audit()
            .iter()
            .filter(|a| a.action == "request_approve_passkey" && a.outcome.starts_with("rejected"))
            .count();
    assert_eq!(refused, 8);
}

#[test]
fn a_counting_authenticator_must_count_up() {
    let (mut h, wallet, key) = setup(two_of_three());
    h.ok(1, "rp", webauthn_set(&[ORIGIN]));
    let mut p = SoftPasskey::new(33, false, RP, ORIGIN);
    p.sign_count = 5;
    assert!(invite_and_register(&mut h, "a1", 51, &p).error.is_none());
    let req = submit(&mut h, &wallet, &key, 1_000_000, "r1");
    // Counter 5 again (a clone would repeat it): refused; 6: accepted.
    let e = h.passkey(&approve_with(&p, &req)).error.unwrap();
    assert!(e.contains("cloned"), "{e}");
    p.sign_count = 6;
    assert!(h.passkey(&approve_with(&p, &req)).error.is_none());
    assert_eq!(h.s.member(&org(), "a1").unwrap().passkeys[0].sign_count, 6);
}

/// An invitation of a1 with invitation key 51, open for a minute.
fn invite_a1() -> Action {
    Action::PasskeyInvite {
        org_id: org(),
        user_id: UserId("a1".into()),
        invite_key: super::pk(51),
        ttl_secs: 60,
    }
}

#[test]
fn registration_needs_an_open_adopted_invitation() {
    let (mut h, _, _) = setup(two_of_three());
    let p = SoftPasskey::new(31, false, RP, ORIGIN);
    // No relying party yet: no invitation.
    let e = h.user(1, "inv0", invite_a1()).error.unwrap();
    assert!(e.contains("relying party"), "{e}");
    h.ok(1, "rp", webauthn_set(&[ORIGIN]));
    // Not invited: the key is a stranger.
    let e = register(&mut h, "a1", 51, &p).error.unwrap();
    assert!(e.contains("invitation"), "{e}");
    // A member cannot invite itself (only admins govern).
    let e = h.user(11, "self", invite_a1()).error.unwrap();
    assert!(e.contains("admin"), "{e}");
    // An invitation for a1 does not register a passkey for a2.
    h.ok(1, "inv1", invite_a1());
    let e = register(&mut h, "a2", 51, &p).error.unwrap();
    assert!(e.contains("invitation"), "{e}");
    // A registration made from another origin is refused.
    let evil = SoftPasskey::new(31, false, RP, "https://evil.example");
    let e = register(&mut h, "a1", 51, &evil).error.unwrap();
    assert!(e.contains("origin"), "{e}");
    // After the invitation's time, it is void.
    h.shift_ms = 61_000;
    let e = register(&mut h, "a1", 51, &p).error.unwrap();
    assert!(e.contains("expired"), "{e}");
}
