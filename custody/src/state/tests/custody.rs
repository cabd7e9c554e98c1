//! Vault → wallet → policy → request → approvals → signing job, and the signer's own checks.

use super::*;
use crate::{
    LimitAction, PolicyRules, Report, ReportBody, RequestStatus, SignedReport, SpendLimit,
    VaultStatus,
};
use mpc_protocol::chain::keys::VaultPublicKeys;
use mpc_protocol::chain::{Amount, Chain, Network};

pub(super) struct H {
    pub(super) s: CustodyState,
    pub(super) idx: u64,
    /// Added to every entry's log time (moves the log's clock forward).
    pub(super) shift_ms: u64,
}

impl H {
    pub(super) fn user(&mut self, signer: u8, idem: &str, action: Action) -> CommandOutcome {
        self.idx += 1;
        let mut c = cmd(signer, idem, action);
        c.proposed_at_ms = 1_000_000 + self.idx * 1000 + self.shift_ms;
        self.s.apply(
            EntryContext {
                log_index: self.idx,
            },
            &c,
        )
    }

    pub(super) fn ok(&mut self, signer: u8, idem: &str, action: Action) -> ActionResult {
        let out = self.user(signer, idem, action);
        assert!(out.error.is_none(), "{idem}: {:?}", out.error);
        out.result.unwrap()
    }

    pub(super) fn report(&mut self, node: u64, report: Report) -> CommandOutcome {
        self.report_signed(node, &node_key(node), report)
    }

    /// A report from `node` signed with `key` (a replaced node's new host, a forger).
    pub(super) fn report_signed(
        &mut self,
        node: u64,
        key: &SigningKey,
        report: Report,
    ) -> CommandOutcome {
        use ed25519_dalek::Signer;
        self.idx += 1;
        let body = serde_json::to_string(&ReportBody {
            cluster: CLUSTER.into(),
            report,
        })
        .unwrap();
        let sig = key.sign(&crate::report_message(&body));
        let rep = SignedReport {
            node_id: node,
            body,
            signature: hex::encode(sig.to_bytes()),
        };
        self.s.apply(
            EntryContext {
                log_index: self.idx,
            },
            &LogCommand {
                proposed_at_ms: 1_000_000 + self.idx * 1000 + self.shift_ms,
                proposal: Proposal::Node(rep),
            },
        )
    }

    pub(super) fn request(&self, id: &str) -> crate::Request {
        self.s.request(id).unwrap().clone()
    }
}

fn keys(seed: u8) -> VaultPublicKeys {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let sec = |b: u8| k256::SecretKey::from_slice(&[b; 32]).unwrap().public_key();
    VaultPublicKeys {
        ecdsa_public_key: hex::encode(sec(seed).to_encoded_point(true).as_bytes()),
        ecdsa_chain_code: hex::encode([seed; 32]),
        ed25519_public_key: hex::encode(
            SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .to_bytes(),
        ),
        secp256k1_tr_public_key: hex::encode(sec(seed + 1).to_encoded_point(true).as_bytes()),
    }
}

fn sol_transfer(payer: &[u8], to: &[u8; 32], lamports: u64) -> String {
    let mut m = vec![1, 0, 1, 3];
    m.extend_from_slice(payer);
    m.extend_from_slice(to);
    m.extend_from_slice(&[0u8; 32]);
    m.extend_from_slice(&[9u8; 32]);
    m.extend_from_slice(&[1, 2, 2, 0, 1, 12]);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&lamports.to_le_bytes());
    hex::encode(m)
}

pub(super) fn org() -> OrgId {
    OrgId("acme".into())
}

/// An organisation with approvers a1..a3 (keys 11..13), initiator (20), an active vault and a
/// Solana test wallet.
pub(super) fn setup(policy: PolicyRules) -> (H, crate::types::WalletId, Vec<u8>) {
    setup_in(fresh(), policy)
}

/// [`setup`] on a network with these genesis parameters.
pub(super) fn setup_in(
    s: CustodyState,
    policy: PolicyRules,
) -> (H, crate::types::WalletId, Vec<u8>) {
    use Role::*;
    let mut h = H {
        s,
        idx: 0,
        shift_ms: 0,
    };
    h.ok(1, "o", org_create("acme"));
    for (u, k) in [("a1", 11), ("a2", 12), ("a3", 13)] {
        h.ok(1, u, member_add("acme", u, k, &[Approver]));
    }
    h.ok(1, "i", member_add("acme", "ini", 20, &[Initiator]));
    h.ok(
        1,
        "v",
        Action::VaultCreate {
            org_id: org(),
            vault_id: "v1".into(),
            name: "Vault".into(),
        },
    );
    assert!(h
        .user(1, "w0", wallet_action())
        .error
        .unwrap()
        .contains("not active"));
    for n in 1..=3 {
        assert!(h
            .report(
                n,
                Report::VaultKeys {
                    vault_id: "v1".into(),
                    keys: keys(5)
                }
            )
            .error
            .is_none());
    }
    assert_eq!(h.s.vault("v1").unwrap().status, VaultStatus::Active);
    // A fourth, duplicate report changes nothing and writes no audit entry.
    let before = h.s.audit().len();
    assert!(h
        .report(
            1,
            Report::VaultKeys {
                vault_id: "v1".into(),
                keys: keys(6)
            }
        )
        .error
        .is_some());
    assert_eq!(h.s.audit().len(), before);
    let ActionResult::WalletCreated { wallet } = h.ok(1, "w", wallet_action()) else {
        panic!()
    };
    h.ok(
        1,
        "p",
        Action::PolicySet {
            org_id: org(),
            vault_id: "v1".into(),
            rules: policy,
        },
    );
    let pk = hex::decode(&wallet.public_key).unwrap();
    (h, wallet.wallet_id, pk)
}

/// A mainnet Ethereum wallet of vault v1 (with its presignature pool).
pub(super) fn eth_wallet(h: &mut H) -> crate::Wallet {
    let ActionResult::WalletCreated { wallet } = h.ok(
        1,
        "weth",
        Action::WalletCreate {
            org_id: org(),
            vault_id: "v1".into(),
            chain: Chain::Ethereum,
            network: Network::Mainnet,
            index: 0,
            chain_id: None,
        },
    ) else {
        panic!()
    };
    wallet
}

fn wallet_action() -> Action {
    Action::WalletCreate {
        org_id: org(),
        vault_id: "v1".into(),
        chain: Chain::Solana,
        network: Network::Testnet,
        index: 0,
        chain_id: None,
    }
}

/// Whitelists the Solana destination `submit` sends to.
pub(super) fn whitelist_destination(h: &mut H) {
    h.ok(
        1,
        "ab",
        Action::AddressBookAdd {
            org_id: org(),
            chain: Chain::Solana,
            network: Network::Testnet,
            address: bs58::encode([8u8; 32]).into_string(),
            label: "cold".into(),
        },
    );
}

pub(super) fn two_of_three() -> PolicyRules {
    PolicyRules {
        approvers: ["a1", "a2", "a3"]
            .iter()
            .map(|u| UserId(u.to_string()))
            .collect(),
        threshold: 2,
        whitelist_required: false,
        limits: vec![],
        auto_approve: vec![],
        max_fee: vec![],
        allowed_calls: vec![],
        request_ttl_secs: None,
    }
}

pub(super) fn submit(
    h: &mut H,
    wallet: &str,
    pk: &[u8],
    lamports: u64,
    idem: &str,
) -> crate::Request {
    submit_payload(h, wallet, sol_transfer(pk, &[8u8; 32], lamports), idem)
}

/// A request for `payload` (hex) on `wallet`, submitted by member 20.
fn submit_payload(h: &mut H, wallet: &str, payload: String, idem: &str) -> crate::Request {
    let out = h.user(
        20,
        idem,
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: wallet.into(),
            payload,
            extras: Default::default(),
        },
    );
    let Some(ActionResult::Request { request }) = out.result else {
        panic!("{:?}", out.error)
    };
    *request
}

pub(super) fn approve(h: &mut H, who: u8, req: &crate::Request, digest: &str) -> CommandOutcome {
    h.user(
        who,
        &format!("ap-{who}-{}-{}", req.request_id, &digest[..8]),
        Action::RequestApprove {
            org_id: org(),
            request_id: req.request_id.clone(),
            intent_digest: digest.into(),
        },
    )
}

/// An ETH transfer on `wallet` submitted by member 20 and approved by 11 and 12 (2-of-3): the
/// request as it stands after the approvals.
pub(super) fn approved_eth_request(h: &mut H, wallet: &str, idem: &str) -> crate::Request {
    let request = submit_payload(h, wallet, eth_payload(), idem);
    approve(h, 11, &request, &request.intent_digest);
    approve(h, 12, &request, &request.intent_digest);
    h.request(&request.request_id)
}

#[test]
fn vault_reports_that_disagree_fail_the_vault() {
    let (mut h, _, _) = setup(two_of_three());
    h.ok(
        1,
        "v2",
        Action::VaultCreate {
            org_id: org(),
            vault_id: "v2".into(),
            name: "V2".into(),
        },
    );
    h.report(
        1,
        Report::VaultKeys {
            vault_id: "v2".into(),
            keys: keys(5),
        },
    );
    h.report(
        2,
        Report::VaultKeys {
            vault_id: "v2".into(),
            keys: keys(5),
        },
    );
    h.report(
        3,
        Report::VaultKeys {
            vault_id: "v2".into(),
            keys: keys(7),
        },
    );
    assert!(matches!(
        h.s.vault("v2").unwrap().status,
        VaultStatus::Failed { .. }
    ));
    // A report signed by the wrong node key is refused.
    h.ok(
        1,
        "v3",
        Action::VaultCreate {
            org_id: org(),
            vault_id: "v3".into(),
            name: "V3".into(),
        },
    );
    use ed25519_dalek::Signer;
    let body = serde_json::to_string(&ReportBody {
        cluster: CLUSTER.into(),
        report: Report::VaultKeys {
            vault_id: "v3".into(),
            keys: keys(5),
        },
    })
    .unwrap();
    let sig = node_key(2).sign(&crate::report_message(&body));
    let forged = SignedReport {
        node_id: 1,
        body,
        signature: hex::encode(sig.to_bytes()),
    };
    let out = h.s.apply(
        EntryContext { log_index: 999 },
        &LogCommand {
            proposed_at_ms: 0,
            proposal: Proposal::Node(forged),
        },
    );
    assert!(out.error.unwrap().contains("does not verify"));
    assert!(h.s.vault("v3").unwrap().reports.is_empty());
}

#[test]
fn m_of_n_approvals_then_signing_job_and_signer_rechecks() {
    let (mut h, wallet, pk) = setup(two_of_three());
    let req = submit(&mut h, &wallet, &pk, 1_000_000, "r1");
    assert_eq!(req.status, RequestStatus::Pending);
    assert_eq!(req.intent.amount, Amount(1_000_000));
    let digest = req.intent_digest.clone();
    // Same idempotency key: same request, nothing new.
    let again = h.user(
        20,
        "r1",
        Action::RequestSubmit {
            org_id: org(),
            wallet_id: wallet.clone(),
            payload: sol_transfer(&pk, &[8u8; 32], 1_000_000),
            extras: Default::default(),
        },
    );
    assert!(again.replayed);
    assert!(h
        .s
        .signing_job(&req.request_id, 1)
        .unwrap_err()
        .contains("not signing"));
    // Wrong digest, non-approver, M-1 approvals: not signing.
    assert!(approve(&mut h, 11, &req, &"00".repeat(32))
        .error
        .unwrap()
        .contains("digest"));
    assert!(approve(&mut h, 20, &req, &digest)
        .error
        .unwrap()
        .contains("not an approver"));
    assert!(approve(&mut h, 11, &req, &digest).error.is_none());
    assert!(approve(&mut h, 11, &req, &digest).replayed);
    assert_eq!(h.request(&req.request_id).status, RequestStatus::Pending);
    // The M-th approval fixes the signer set and session id.
    assert!(approve(&mut h, 12, &req, &digest).error.is_none());
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    let attempt = r.attempts[0].clone();
    assert_eq!(attempt.signers.len(), 2);
    let me = attempt.signers[0];
    let job = h.s.signing_job(&req.request_id, me).unwrap();
    assert_eq!(
        job.session_id.0.to_vec(),
        hex::decode(&attempt.session_id).unwrap()
    );
    // The signer's own clock (decision 0012): the reservation's log time must be within
    // MAX_CLOCK_SKEW_MS of it, either way; a leader a day ahead or behind gets no signature.
    let reserved = r.reserved_at_ms.unwrap();
    let bound = crate::entry::MAX_CLOCK_SKEW_MS;
    for now in [reserved, reserved + bound, reserved.saturating_sub(bound)] {
        assert!(
            h.s.signing_job_at(&req.request_id, me, now).is_ok(),
            "{now}"
        );
    }
    for now in [reserved + bound + 1, reserved + 86_400_000] {
        let e = h.s.signing_job_at(&req.request_id, me, now).unwrap_err();
        assert!(e.contains("behind this node's clock"), "{e}");
    }
    let e =
        h.s.signing_job_at(&req.request_id, me, reserved.saturating_sub(bound + 1))
            .unwrap_err();
    assert!(e.contains("ahead of this node's clock"), "{e}");
    let outsider = (1..=3).find(|n| !attempt.signers.contains(n)).unwrap();
    assert!(h
        .s
        .signing_job(&req.request_id, outsider)
        .unwrap_err()
        .contains("not in the signer set"));

    // Invariant 2: a state that says "signing" without valid approvals makes no signing job.
    let mut forged = h.s.clone();
    let mut fr = r.clone();
    fr.approvals.remove(&UserId("a2".into()));
    forged.force_request_for_tests(fr);
    assert!(forged
        .signing_job(&req.request_id, me)
        .unwrap_err()
        .contains("valid approvals"));
    // ... nor an approval over another digest copied in under another approver's name.
    let mut forged = h.s.clone();
    let mut fr = r.clone();
    let a1 = fr.approvals[&UserId("a1".into())].clone();
    fr.approvals.insert(UserId("a2".into()), a1);
    forged.force_request_for_tests(fr);
    assert!(forged
        .signing_job(&req.request_id, me)
        .unwrap_err()
        .contains("valid approvals"));
    // ... nor a tampered payload.
    let mut forged = h.s.clone();
    let mut fr = r.clone();
    fr.payload = sol_transfer(&pk, &[8u8; 32], 9_999_999);
    forged.force_request_for_tests(fr);
    assert!(forged
        .signing_job(&req.request_id, me)
        .unwrap_err()
        .contains("intent"));
    // A removed approver's approval no longer counts.
    let mut removed = h.s.clone();
    let mut hh = H {
        s: removed.clone(),
        idx: h.idx,
        shift_ms: 0,
    };
    hh.ok(1, "rm", member_remove("acme", "a2"));
    removed = hh.s;
    assert!(removed
        .signing_job(&req.request_id, me)
        .unwrap_err()
        .contains("valid approvals"));

    // A bogus signature report is refused; a failure report moves to another signer subset.
    let bogus = h.report(
        me,
        Report::Signature {
            request_id: req.request_id.clone(),
            attempt: 1,
            signatures: vec!["00".repeat(64)],
        },
    );
    assert!(bogus.error.unwrap().contains("refused"));
    let other = attempt.signers[1];
    let out = h.report(
        me,
        Report::SignFailed {
            request_id: req.request_id.clone(),
            attempt: 1,
            reason: "timeout".into(),
            unresponsive: vec![other],
        },
    );
    assert!(out.error.is_none());
    let r = h.request(&req.request_id);
    assert_eq!(r.attempts.len(), 2);
    assert!(!r.attempts[1].signers.contains(&other), "{:?}", r.attempts);
    assert_ne!(r.attempts[1].session_id, r.attempts[0].session_id);
    // A report for the old attempt is stale.
    assert!(h
        .report(
            me,
            Report::SignFailed {
                request_id: req.request_id.clone(),
                attempt: 1,
                reason: "x".into(),
                unresponsive: vec![]
            }
        )
        .error
        .is_some());
}

#[test]
fn whitelist_limits_and_auto_approve() {
    let mut rules = two_of_three();
    rules.whitelist_required = true;
    rules.limits = vec![SpendLimit {
        asset: "SOL".into(),
        window_secs: 3600,
        max_amount: Amount(3_000_000),
        action: LimitAction::RequireAdmin,
    }];
    rules.auto_approve = vec![crate::AutoApprove {
        asset: "SOL".into(),
        max_amount: Amount(1_000_000),
    }];
    let (mut h, wallet, pk) = setup(rules.clone());
    // Not whitelisted: rejected at submission.
    let r = submit(&mut h, &wallet, &pk, 1_000, "r0");
    assert!(
        matches!(r.status, RequestStatus::Rejected { .. }),
        "{:?}",
        r.status
    );
    whitelist_destination(&mut h);
    // Whitelisted and, with its 5,000-lamport fee, at the auto-approve amount: straight to
    // signing.
    let r1 = submit(&mut h, &wallet, &pk, 995_000, "r1");
    assert_eq!(r1.status, RequestStatus::Signing);
    assert!(r1.auto_approved);
    // Above auto-approve: needs approvals; then beyond the 1 h window it waits for an admin.
    let r2 = submit(&mut h, &wallet, &pk, 2_500_000, "r2");
    assert_eq!(r2.status, RequestStatus::Pending);
    approve(&mut h, 11, &r2, &r2.intent_digest);
    approve(&mut h, 13, &r2, &r2.intent_digest);
    let r2 = h.request(&r2.request_id);
    assert!(
        matches!(r2.status, RequestStatus::AwaitingAdmin { .. }),
        "{:?}",
        r2.status
    );
    let out = h.user(
        1,
        "adm",
        Action::RequestAdminApprove {
            org_id: org(),
            request_id: r2.request_id.clone(),
            intent_digest: r2.intent_digest.clone(),
        },
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(h.request(&r2.request_id).status, RequestStatus::Signing);
    let me = h.request(&r2.request_id).attempts[0].signers[0];
    assert!(h.s.signing_job(&r2.request_id, me).is_ok());
    // With a REJECT limit instead, the same spend is rejected.
    rules.limits[0].action = LimitAction::Reject;
    let (mut h, wallet, pk) = setup(rules);
    whitelist_destination(&mut h);
    submit(&mut h, &wallet, &pk, 995_000, "r1");
    let r2 = submit(&mut h, &wallet, &pk, 2_500_000, "r2");
    approve(&mut h, 11, &r2, &r2.intent_digest);
    approve(&mut h, 12, &r2, &r2.intent_digest);
    let r2 = h.request(&r2.request_id);
    assert!(
        matches!(&r2.status, RequestStatus::Rejected { reason } if reason.contains("spending limit")),
        "{:?}",
        r2.status
    );
    // The policy changing after approval stops the signer.
    let r1 =
        h.s.requests(None)
            .find(|r| r.status == RequestStatus::Signing)
            .unwrap()
            .clone();
    let me = r1.attempts[0].signers[0];
    assert!(h.s.signing_job(&r1.request_id, me).is_ok());
    h.ok(
        1,
        "p2",
        Action::PolicySet {
            org_id: org(),
            vault_id: "v1".into(),
            rules: two_of_three(),
        },
    );
    assert!(h
        .s
        .signing_job(&r1.request_id, me)
        .unwrap_err()
        .contains("policy changed"));
}

/// An unsigned EIP-1559 transfer on mainnet (chain id 1): 1000 wei to 0xdd…dd.
pub(super) fn eth_payload() -> String {
    let mut p = vec![0x02, 0xe1, 0x01, 0x80, 0x01, 0x02, 0x82, 0x52, 0x08, 0x94];
    p.extend_from_slice(&[0xdd; 20]);
    p.extend_from_slice(&[0x82, 0x03, 0xe8, 0x80, 0xc0]);
    hex::encode(p)
}

#[test]
fn presignature_pool_is_filled_by_reports_and_each_presignature_used_once() {
    use crate::{PRESIG_MAX_FAILURES, PRESIG_POOL_MIN};
    let (mut h, _, _) = setup(two_of_three());
    let wid = eth_wallet(&mut h).wallet_id;
    // The Solana (FROST) wallet has a nonce pool with its first block scheduled (decision
    // 0034); the ECDSA one has the first presignatures scheduled.
    let frost = h.s.presig_pool("v1-solana-testnet-0").unwrap();
    assert!(frost.frost);
    assert_eq!(frost.generating.len(), crate::FROST_POOL_MIN);
    let pool = h.s.presig_pool(&wid).unwrap().clone();
    assert_eq!(pool.generating.len(), PRESIG_POOL_MIN);
    assert!(pool.ready.is_empty());
    assert_eq!(pool.signers.len(), 2);
    let outsider = (1..=3).find(|n| !pool.signers.contains(n)).unwrap();
    let (s1, s2) = (pool.signers[0], pool.signers[1]);
    assert_eq!(h.s.presig_work(s1).len(), PRESIG_POOL_MIN);
    assert!(h.s.presig_work(outsider).is_empty());
    let ready = |wallet_id: &str, seq: u64| Report::PresigReady {
        wallet_id: wallet_id.into(),
        seq,
    };
    // A node outside the pool cannot report; one signer's report does not make it usable.
    assert!(h.report(outsider, ready(&wid, 0)).error.is_some());
    assert!(h.report(s1, ready(&wid, 0)).error.is_none());
    assert!(h.s.presig_pool(&wid).unwrap().ready.is_empty());
    // A duplicate changes nothing.
    assert!(h.report(s1, ready(&wid, 0)).error.is_some());
    assert!(h.report(s2, ready(&wid, 0)).error.is_none());
    assert!(h.report(s1, ready(&wid, 1)).error.is_none());
    assert!(h.report(s2, ready(&wid, 1)).error.is_none());
    let pool = h.s.presig_pool(&wid).unwrap();
    assert_eq!(pool.ready.iter().copied().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(pool.generating.len(), 2);
    assert_eq!(h.s.presig_work(s1).len(), 2);

    // A request approved 2-of-3: its first attempt uses presignature 0 with the pool's signers,
    // and the same entry removes it from the pool and schedules a replacement.
    let mut ids = Vec::new();
    for (n, idem) in [(0, "e1"), (1, "e2")] {
        let r = approved_eth_request(&mut h, &wid, idem);
        assert_eq!(r.status, RequestStatus::Signing);
        let a = r.attempts.last().unwrap();
        assert_eq!(a.signers, vec![s1, s2]);
        assert_eq!(a.presignatures, vec![n], "request {n}");
        ids.push(r.request_id.clone());
    }
    let pool = h.s.presig_pool(&wid).unwrap().clone();
    assert!(pool.ready.is_empty());
    assert_eq!(pool.used, 2);
    assert_eq!(pool.generating.len(), PRESIG_POOL_MIN);
    assert_eq!(pool.next_seq, 6);
    // Each first attempt counted as demand (two, so the target stays at the minimum).
    assert_eq!(pool.demand.len(), 2);
    assert_eq!(pool.target, PRESIG_POOL_MIN);
    // The job carries the presignature and where the signer keeps it.
    let job = h.s.signing_job(&ids[0], s1).unwrap();
    assert_eq!(job.presignatures, vec![(0, pool.store_key(0))]);
    // A late "ready" for a used number does not bring it back.
    assert!(h.report(s2, ready(&wid, 0)).error.is_some());
    assert!(!h.s.presig_pool(&wid).unwrap().ready.contains(&0));

    // The attempt fails: the retry signs interactively (no presignature reused).
    assert!(h
        .report(
            s1,
            Report::SignFailed {
                request_id: ids[0].clone(),
                attempt: 1,
                reason: "timed out".into(),
                unresponsive: vec![],
            },
        )
        .error
        .is_none());
    let r = h.request(&ids[0]);
    assert_eq!(r.attempts.len(), 2);
    assert!(r.attempts[1].presignatures.is_empty());
    // A retry is not new demand.
    assert_eq!(h.s.presig_pool(&wid).unwrap().demand.len(), 2);

    // Failures: each drops its number and schedules another, until the pool pauses.
    let failed = |seq: u64| Report::PresigFailed {
        wallet_id: wid.clone(),
        seq,
        reason: "peer down".into(),
    };
    let mut next: Vec<u64> =
        h.s.presig_pool(&wid)
            .unwrap()
            .generating
            .keys()
            .copied()
            .collect();
    for _ in 0..PRESIG_MAX_FAILURES {
        let seq = next.remove(0);
        assert!(h.report(s1, failed(seq)).error.is_none());
        next =
            h.s.presig_pool(&wid)
                .unwrap()
                .generating
                .keys()
                .copied()
                .collect();
    }
    let pool = h.s.presig_pool(&wid).unwrap();
    assert_eq!(pool.failures_in_row, PRESIG_MAX_FAILURES);
    assert_eq!(pool.generating.len(), PRESIG_POOL_MIN - 1, "paused");
}
