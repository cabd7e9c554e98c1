//! Table-driven tests of `CustodyState::apply`.

use super::*;
use crate::command::{CommandBody, SignedCommand};
use crate::types::Role;
use ed25519_dalek::SigningKey;

const CLUSTER: &str = "cluster-1";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn pk(seed: u8) -> UserKey {
    UserKey(key(seed).verifying_key().to_bytes())
}

fn node_key(n: u64) -> SigningKey {
    SigningKey::from_bytes(&[100 + n as u8; 32])
}

fn node_pk(n: u64) -> UserKey {
    UserKey(node_key(n).verifying_key().to_bytes())
}

fn fresh() -> CustodyState {
    CustodyState::new(GenesisParams {
        cluster_id: CLUSTER.into(),
        admins: [pk(1)].into_iter().collect(),
        nodes: (1..=3u64).map(|n| (n, node_pk(n))).collect(),
        threshold: 2,
    })
}

fn cmd(signer: u8, idem: &str, action: Action) -> LogCommand {
    let body = CommandBody {
        cluster: CLUSTER.into(),
        idempotency_key: idem.into(),
        action,
    };
    LogCommand {
        proposed_at_ms: 1_000,
        proposal: Proposal::User(SignedCommand::sign(&body, &key(signer)).unwrap()),
    }
}

fn org_create(org: &str) -> Action {
    Action::OrgCreate {
        org_id: OrgId(org.into()),
        name: format!("{org} inc"),
        admin_user_id: UserId("root".into()),
        admin_public_key: None,
    }
}

fn member_add(org: &str, user: &str, seed: u8, roles: &[Role]) -> Action {
    Action::MemberAdd {
        org_id: OrgId(org.into()),
        user_id: UserId(user.into()),
        public_key: pk(seed),
        roles: roles.to_vec(),
    }
}

/// An organisation whose first admin ("boss") is the key of `seed`, not the genesis admin.
fn org_create_for(org: &str, seed: u8) -> Action {
    Action::OrgCreate {
        org_id: OrgId(org.into()),
        name: format!("{org} inc"),
        admin_user_id: UserId("boss".into()),
        admin_public_key: Some(pk(seed)),
    }
}

/// An admin's approval of proposal `prop-<index>` for `change`.
fn approve_change(org: &str, index: u64, change: &Action) -> Action {
    Action::ProposalApprove {
        org_id: OrgId(org.into()),
        proposal_id: crate::types::ProposalId(format!("prop-{index}")),
        change_hash: crate::governance::change_hash(CLUSTER, change),
    }
}

fn member_remove(org: &str, user: &str) -> Action {
    Action::MemberRemove {
        org_id: OrgId(org.into()),
        user_id: UserId(user.into()),
    }
}

/// Applies `steps` in order; each step states whether it should succeed, or which error text it
/// should produce.
type Step = (u8, &'static str, Action, Result<(), &'static str>);

fn run(steps: Vec<Step>) -> CustodyState {
    let mut s = fresh();
    for (i, (signer, idem, action, want)) in steps.into_iter().enumerate() {
        let out = s.apply(
            EntryContext {
                log_index: i as u64 + 1,
            },
            &cmd(signer, idem, action),
        );
        match want {
            Ok(()) => assert!(out.error.is_none(), "step {i}: {:?}", out.error),
            Err(text) => {
                let err = out.error.unwrap_or_default();
                assert!(err.contains(text), "step {i}: wanted '{text}', got '{err}'");
            }
        }
    }
    s
}

mod assets;
mod attempts;
mod batches;
mod btc_inputs;
mod committee;
mod custody;
mod fees;
mod governance;
mod lifecycle;
mod limits;
mod networks;
mod nodes;
mod passkeys;
mod pools;
mod queue;
mod reads;
mod refresh;
mod user_batches;

#[test]
fn apply_table() {
    use Role::*;
    let cases: Vec<(&str, Vec<Step>)> = vec![
        (
            "genesis admin creates org",
            vec![(1, "a", org_create("acme"), Ok(()))],
        ),
        (
            "non-genesis key cannot create org",
            vec![(2, "a", org_create("acme"), Err("only a genesis admin"))],
        ),
        (
            "duplicate org",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", org_create("acme"), Err("already exists")),
            ],
        ),
        (
            "admin adds member",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "bob", 2, &[Approver]), Ok(())),
            ],
        ),
        (
            "member add to unknown org",
            vec![(
                1,
                "a",
                member_add("nope", "bob", 2, &[Approver]),
                Err("no organisation"),
            )],
        ),
        (
            "non-admin member cannot add",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "bob", 2, &[Approver]), Ok(())),
                (
                    2,
                    "c",
                    member_add("acme", "eve", 3, &[Admin]),
                    Err("not an admin"),
                ),
            ],
        ),
        (
            "org admin (not genesis) can add",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "carol", 3, &[Admin]), Ok(())),
                (3, "c", member_add("acme", "dave", 4, &[Auditor]), Ok(())),
            ],
        ),
        (
            "duplicate user id",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "bob", 2, &[Approver]), Ok(())),
                (
                    1,
                    "c",
                    member_add("acme", "bob", 3, &[Approver]),
                    Err("already exists"),
                ),
            ],
        ),
        (
            "duplicate key",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "bob", 2, &[Approver]), Ok(())),
                (
                    1,
                    "c",
                    member_add("acme", "bob2", 2, &[Approver]),
                    Err("already belongs"),
                ),
            ],
        ),
        (
            "last admin cannot be removed",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_remove("acme", "root"), Err("last admin")),
            ],
        ),
        (
            "removed admin loses power",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "b", member_add("acme", "carol", 3, &[Admin]), Ok(())),
                // Two admins, quorum 2: root proposes (log index 3), carol approves.
                (1, "c", member_add("acme", "dan", 4, &[Admin]), Ok(())),
                (
                    3,
                    "d",
                    approve_change("acme", 3, &member_add("acme", "dan", 4, &[Admin])),
                    Ok(()),
                ),
                (1, "e", member_remove("acme", "carol"), Ok(())),
                (
                    4,
                    "f",
                    approve_change("acme", 5, &member_remove("acme", "carol")),
                    Ok(()),
                ),
                (
                    3,
                    "g",
                    member_add("acme", "eve", 5, &[Auditor]),
                    Err("not an admin"),
                ),
            ],
        ),
        (
            "genesis admins are not admins of the organisations they create",
            vec![
                (1, "a", org_create_for("acme", 3), Ok(())),
                (
                    1,
                    "b",
                    member_add("acme", "eve", 5, &[Admin]),
                    Err("not an admin"),
                ),
                (3, "c", member_add("acme", "bob", 2, &[Approver]), Ok(())),
            ],
        ),
        (
            "idempotency key reused for another body",
            vec![
                (1, "a", org_create("acme"), Ok(())),
                (1, "a", org_create("other"), Err("already used")),
            ],
        ),
    ];
    for (name, steps) in cases {
        let s = std::panic::catch_unwind(|| run(steps));
        assert!(s.is_ok(), "case '{name}' failed");
        let s = s.unwrap();
        assert!(s.audit_verify().ok, "case '{name}': audit chain broken");
    }
}

#[test]
fn replay_returns_first_outcome_and_changes_nothing() {
    let mut s = fresh();
    let c = cmd(1, "k", org_create("acme"));
    let first = s.apply(EntryContext { log_index: 1 }, &c);
    assert!(first.error.is_none());
    let _ = s.take_dirty();
    let before = s.clone();
    let again = s.apply(EntryContext { log_index: 2 }, &c);
    assert!(again.replayed);
    assert_eq!(again.result, first.result);
    assert_eq!(again.audit_seq, first.audit_seq);
    assert_eq!(again.log_index, 1);
    assert_eq!(s.audit().len(), 1);
    assert!(s.take_dirty().is_empty());
    assert_eq!(s, before);
}

#[test]
fn bad_signature_in_log_is_rejected_and_audited() {
    let mut s = fresh();
    let mut c = cmd(1, "k", org_create("acme"));
    if let Proposal::User(u) = &mut c.proposal {
        u.body = u.body.replace("acme", "evil");
    }
    let out = s.apply(EntryContext { log_index: 1 }, &c);
    assert!(out.error.unwrap().contains("does not verify"));
    assert!(s.orgs().next().is_none());
    assert_eq!(s.audit()[0].action, "invalid");
}

#[test]
fn apply_is_deterministic_and_time_is_monotonic() {
    let steps = |s: &mut CustodyState| {
        let mut c1 = cmd(1, "a", org_create("acme"));
        c1.proposed_at_ms = 5_000;
        let mut c2 = cmd(1, "b", member_add("acme", "bob", 2, &[Role::Approver]));
        c2.proposed_at_ms = 4_000; // a new leader with a slower clock
        s.apply(EntryContext { log_index: 1 }, &c1);
        s.apply(EntryContext { log_index: 2 }, &c2)
    };
    let mut a = fresh();
    let mut b = fresh();
    let oa = steps(&mut a);
    let ob = steps(&mut b);
    assert_eq!(oa, ob);
    assert_eq!(a, b);
    assert_eq!(a.audit()[1].timestamp_ms, 5_000);
}

#[test]
fn records_round_trip() {
    let mut s = run(vec![
        (1, "a", org_create("acme"), Ok(())),
        (
            1,
            "b",
            member_add("acme", "bob", 2, &[Role::Approver]),
            Ok(()),
        ),
        (1, "c", member_remove("acme", "bob"), Ok(())),
    ]);
    let keys = s.take_dirty();
    let records: Vec<_> = keys
        .iter()
        .filter_map(|k| s.record(k).map(|v| (k.clone(), v)))
        .collect();
    let back =
        CustodyState::from_records(s.genesis().clone(), s.last_timestamp_ms(), records).unwrap();
    assert_eq!(back, s);
}
