//! Node replacement: only a quorum of genesis admins admits a new host; the admission moves the
//! node's report key, restarts the aux info and pools and starts a repair of every vault; the
//! repair's parties act only on a replacement they verified against the genesis admins; the
//! repair ends in a refresh; signing avoids the node until its shares are back.

use super::custody::{approve, setup_in, submit, two_of_three, H};
use super::*;
use crate::membership::{NodeCard, ReplacementStatus};
use crate::{RefreshStatus, Report, RequestStatus};

/// Genesis admins: keys 1, 2 and 3 (quorum 2).
pub(super) fn three_admins() -> CustodyState {
    CustodyState::new(GenesisParams {
        cluster_id: CLUSTER.into(),
        admins: [pk(1), pk(2), pk(3)].into_iter().collect(),
        nodes: (1..=3u64).map(|n| (n, node_pk(n))).collect(),
        threshold: 2,
    })
}

/// The new host of node 3.
fn new_host_key() -> SigningKey {
    SigningKey::from_bytes(&[77; 32])
}

pub(super) fn card(seed: u8) -> NodeCard {
    NodeCard {
        identity_key: UserKey(
            SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .to_bytes(),
        ),
        noise_key: hex::encode([seed; 32]),
        p2p_addr: "/ip4/127.0.0.1/tcp/7013".into(),
        rpc_addr: "127.0.0.1:8013".into(),
        rpc_tls_sha256: hex::encode([seed; 32]),
    }
}

pub(super) fn replace(h: &mut H, admin: u8, replacement: u32, card: NodeCard) -> CommandOutcome {
    h.user(
        admin,
        &format!("replace-3-{replacement}-{admin}-{}", &card.noise_key[..4]),
        Action::NodeReplace {
            node_id: 3,
            replacement,
            card,
        },
    )
}

fn repaired(h: &mut H, key: &SigningKey, attempt: u32) -> CommandOutcome {
    let r = Report::VaultRepaired {
        vault_id: "v1".into(),
        replacement: 1,
        attempt,
    };
    h.report_signed(3, key, r)
}

#[test]
fn a_node_is_replaced_only_by_a_quorum_of_genesis_admins() {
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    let aux_before = h.s.aux().attempt;
    // An organisation admin is not a genesis admin.
    let e = replace(&mut h, 11, 1, card(77)).error.unwrap();
    assert!(e.contains("genesis admin"), "{e}");
    // One genesis admin's signature is not enough: nothing changes.
    assert!(replace(&mut h, 1, 1, card(77)).error.is_none());
    let rec = h.s.replacements().next().unwrap().clone();
    assert_eq!(rec.status, ReplacementStatus::Pending);
    assert!(h.s.vault("v1").unwrap().repair.is_none());
    assert_eq!(h.s.pinned_node(3).unwrap().replacement, 0);
    let e = repaired(&mut h, &new_host_key(), 1).error.unwrap();
    assert!(e.contains("does not verify"), "{e}");
    // The same admin again counts once; another card cannot ride on the pending one.
    let again = Action::NodeReplace {
        node_id: 3,
        replacement: 1,
        card: card(77),
    };
    let e = h.user(1, "again", again).error.unwrap();
    assert!(e.contains("already signed"), "{e}");
    let e = replace(&mut h, 2, 1, card(78)).error.unwrap();
    assert!(e.contains("another card is pending"), "{e}");
    // A second genesis admin admits it.
    assert!(replace(&mut h, 2, 1, card(77)).error.is_none());
    let rec = h.s.current_replacement(3).unwrap().clone();
    assert!(rec.is_admitted());
    assert_eq!(rec.approvals.len(), 2);
    let pinned = h.s.pinned_node(3).unwrap();
    assert_eq!(
        (pinned.replacement, pinned.identity_key),
        (1, card(77).identity_key)
    );
    // The committee's aux info starts over (the lost host's Paillier key is gone).
    assert_eq!(h.s.aux().attempt, aux_before + 1);
    assert!(!h.s.aux().complete);
    // Every vault repairs node 3's shares with two helpers.
    let rep = h.s.vault("v1").unwrap().repair.clone().unwrap();
    assert_eq!(
        (rep.node_id, rep.attempt, rep.helpers.clone()),
        (3, 1, vec![1, 2])
    );
    // The lost host's key no longer reports for node 3; the new host's does.
    let e = repaired(&mut h, &node_key(3), 1).error.unwrap();
    assert!(e.contains("does not verify"), "{e}");
    // Its old approvals cannot replace the node again: the next replacement is number 2.
    let e = replace(&mut h, 3, 1, card(79)).error.unwrap();
    assert!(e.contains("next replacement is number 2"), "{e}");
}

#[test]
fn a_genesis_with_one_admin_cannot_replace_a_node() {
    let (mut h, _, _) = setup_in(fresh(), two_of_three());
    let e = replace(&mut h, 1, 1, card(77)).error.unwrap();
    assert!(e.contains("single admin"), "{e}");
    assert!(h.s.replacements().next().is_none());
}

#[test]
fn a_repair_party_acts_only_on_a_replacement_signed_by_a_genesis_admin_quorum() {
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    replace(&mut h, 1, 1, card(77));
    replace(&mut h, 2, 1, card(77));
    let job = h.s.repair_job("v1", 1).unwrap();
    assert_eq!(job.card, card(77));
    assert_eq!((job.node_id, job.helpers.clone()), (3, vec![1, 2]));
    assert!(h.s.repair_job("v1", 3).is_ok());
    // A node that is neither helper nor the repaired node has no part (none here: n = 3).
    // A forged record (a lying leader's snapshot): the card swapped for the attacker's.
    let mut forged = h.s.clone();
    let rec = forged.replacements.get_mut(&(3, 1)).unwrap();
    rec.card = card(66);
    let e = forged.repair_job("v1", 1).unwrap_err();
    assert!(e.contains("about another change"), "{e}");
    assert!(forged.pinned_node(3).is_err());
    // A record admitted on one admin's signature.
    let mut forged = h.s.clone();
    let rec = forged.replacements.get_mut(&(3, 1)).unwrap();
    let first = *rec.approvals.keys().next().unwrap();
    rec.approvals.retain(|k, _| *k == first);
    let e = forged.repair_job("v1", 2).unwrap_err();
    assert!(e.contains("1 genesis-admin signature"), "{e}");
    // A refresh completion signed by the forged host's key does not verify either.
    assert!(forged.pinned_node(3).is_err());
}

#[test]
fn a_repair_ends_in_a_refresh_and_signing_avoids_the_node_meanwhile() {
    let (mut h, wallet, pk) = setup_in(three_admins(), two_of_three());
    replace(&mut h, 1, 1, card(77));
    replace(&mut h, 3, 1, card(77));
    // Signing meanwhile: never with node 3, which holds no share.
    let req = submit(&mut h, &wallet, &pk, 1_000, "r1");
    approve(&mut h, 11, &req, &req.intent_digest);
    approve(&mut h, 12, &req, &req.intent_digest);
    let r = h.request(&req.request_id);
    assert_eq!(r.status, RequestStatus::Signing);
    assert_eq!(r.attempts[0].signers, vec![1, 2]);
    // A helper's failure moves to the next attempt; a report for another attempt is ignored.
    let failed = |attempt| Report::VaultRepairFailed {
        vault_id: "v1".into(),
        replacement: 1,
        attempt,
        reason: "timed out".into(),
        culprits: vec![2],
    };
    assert!(h.report(1, failed(1)).error.is_none());
    let rep = h.s.vault("v1").unwrap().repair.clone().unwrap();
    assert_eq!(rep.attempt, 2);
    assert!(rep.last_failure.unwrap().contains("node(s) [2]"));
    assert!(h.report(1, failed(1)).error.is_some());
    // Only the repaired node's own report completes it, for the current attempt.
    let stale = repaired(&mut h, &new_host_key(), 1);
    assert!(stale.error.is_some());
    let helper = h.report(
        1,
        Report::VaultRepaired {
            vault_id: "v1".into(),
            replacement: 1,
            attempt: 2,
        },
    );
    assert!(helper.error.is_some());
    assert!(repaired(&mut h, &new_host_key(), 2).error.is_none());
    let v = h.s.vault("v1").unwrap();
    assert!(v.repair.is_none());
    let refresh = v.refresh.clone().unwrap();
    assert_eq!(refresh.status, RefreshStatus::Running);
    assert!(
        refresh.reason.contains("node 3 was replaced"),
        "{}",
        refresh.reason
    );
    assert_eq!(refresh.epoch, v.epoch + 1);
}
