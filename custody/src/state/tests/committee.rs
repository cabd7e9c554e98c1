//! Committee changes (decision 0027). Removal: only a quorum of genesis admins removes a node;
//! the removed node reports and signs nothing more; every vault refreshes among the staying nodes
//! and its committee shrinks; a node gives up its old shares only on a removal it verified against
//! the genesis admins. Addition: the same quorum; the new node's shares are repaired in at its own
//! evaluation point, then a refresh among the enlarged committee lets it in. One network change at
//! a time.

use super::custody::{approve, eth_wallet, setup_in, submit, two_of_three, H};
use super::nodes::{card, replace, three_admins};
use super::*;
use crate::membership::{NodeCard, ReplacementStatus};
use crate::{RefreshStatus, Report, RequestStatus};

fn remove(h: &mut H, admin: u8, node_id: u64) -> CommandOutcome {
    h.user(
        admin,
        &format!("remove-{node_id}-{admin}"),
        Action::NodeRemove { node_id },
    )
}

fn due(h: &mut H, node: u64) -> CommandOutcome {
    let epoch = h.s.vault("v1").unwrap().epoch;
    h.report(
        node,
        Report::RefreshDue {
            vault_id: "v1".into(),
            epoch,
        },
    )
}

fn refreshed(h: &mut H, node: u64, digest: &str) -> CommandOutcome {
    let v = h.s.vault("v1").unwrap();
    let r = v.refresh.as_ref().unwrap();
    let report = Report::VaultRefreshed {
        vault_id: "v1".into(),
        epoch: r.epoch,
        generation: r.started_log_index,
        digest: digest.into(),
    };
    h.report(node, report)
}

#[test]
fn a_node_is_removed_only_by_a_quorum_of_genesis_admins() {
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    let aux_before = h.s.aux().attempt;
    let e = remove(&mut h, 11, 3).error.unwrap();
    assert!(e.contains("genesis admin"), "{e}");
    // One genesis admin: pending, nothing changes.
    assert!(remove(&mut h, 1, 3).error.is_none());
    assert_eq!(
        h.s.removals().next().unwrap().status,
        ReplacementStatus::Pending
    );
    assert_eq!(h.s.members(), vec![1, 2, 3]);
    assert!(h.s.vault("v1").unwrap().refresh.is_none());
    let e = h
        .user(1, "again", Action::NodeRemove { node_id: 3 })
        .error
        .unwrap();
    assert!(e.contains("already signed"), "{e}");
    // A second genesis admin: node 3 is out.
    assert!(remove(&mut h, 2, 3).error.is_none());
    assert!(h.s.is_removed(3));
    assert_eq!(h.s.members(), vec![1, 2]);
    assert!(h.s.verified_removal(3).is_ok());
    // New aux info for the committee of two.
    assert_eq!(h.s.aux().attempt, aux_before + 1);
    assert!(!h.s.aux().complete);
    // Its reports are refused from now on.
    let e = due(&mut h, 3).error.unwrap();
    assert!(e.contains("unknown node 3"), "{e}");
    let e = remove(&mut h, 3, 3).error.unwrap();
    assert!(e.contains("already removed"), "{e}");
    // Below two nodes (or below t) nothing more can be removed.
    let e = remove(&mut h, 1, 2).error.unwrap();
    assert!(e.contains("would leave 1 node"), "{e}");
}

#[test]
fn a_genesis_with_one_admin_cannot_remove_a_node() {
    let (mut h, _, _) = setup_in(fresh(), two_of_three());
    let e = remove(&mut h, 1, 3).error.unwrap();
    assert!(e.contains("single admin"), "{e}");
}

#[test]
fn every_vault_refreshes_among_the_staying_nodes_and_signing_leaves_the_removed_node_out() {
    let (mut h, wallet, pk) = setup_in(three_admins(), two_of_three());
    let eth = eth_wallet(&mut h).wallet_id.0;
    remove(&mut h, 1, 1);
    remove(&mut h, 2, 1);
    // The pool of a wallet node 1 presigned for gets signers without it.
    let pool = h.s.presig_pool(&eth).unwrap();
    assert!(!pool.signers.contains(&1), "{:?}", pool.signers);
    // Signing: never with node 1, even before the vault's shares leave it (three requests at
    // log indices that rotate through every 2-subset of three nodes).
    for i in 0..3u32 {
        for j in 0..i {
            h.user(
                1,
                &format!("pad-{i}-{j}"),
                Action::NodeRemove { node_id: 9 },
            );
        }
        let req = submit(&mut h, &wallet, &pk, 1_000, &format!("r{i}"));
        approve(&mut h, 11, &req, &req.intent_digest);
        approve(&mut h, 12, &req, &req.intent_digest);
        let r = h.request(&req.request_id);
        assert_eq!(r.status, RequestStatus::Signing);
        assert_eq!(r.attempts[0].signers, vec![2, 3]);
    }
    // The vault owes a refresh now, whatever the organisation's schedule.
    let v = h.s.vault("v1").unwrap().clone();
    assert!(h.s.refresh_due_at(&v).is_some());
    assert!(due(&mut h, 2).error.is_none());
    let running = h.s.vault("v1").unwrap().refresh.clone().unwrap();
    assert_eq!(running.removes, vec![1]);
    assert!(
        running.reason.contains("node(s) [1] removed"),
        "{}",
        running.reason
    );
    assert_eq!(running.status, RefreshStatus::Running);
    // The staying nodes' reports complete it; the committee shrinks.
    let d = "ab".repeat(32);
    assert!(refreshed(&mut h, 2, &d).error.is_none());
    assert!(h.s.vault("v1").unwrap().refresh.is_some());
    assert!(refreshed(&mut h, 3, &d).error.is_none());
    let v = h.s.vault("v1").unwrap().clone();
    assert_eq!(v.committee, vec![2, 3]);
    assert_eq!(v.epoch, 1);
    assert!(h.s.refresh_due_at(&v).is_none());
    assert_eq!(h.s.verify_refresh_completion("v1", &d), Ok(1));
    // A forged removal (one admin's signature left) does not let a node drop its old shares.
    let mut forged = h.s.clone();
    let rec = forged.removals.get_mut(&1).unwrap();
    let first = *rec.approvals.keys().next().unwrap();
    rec.approvals.retain(|k, _| *k == first);
    let e = forged.verify_refresh_completion("v1", &d).unwrap_err();
    assert!(e.contains("1 genesis-admin signature"), "{e}");
    // New vaults are created with the staying nodes only.
    assert_eq!(h.s.members(), vec![2, 3]);
}

#[test]
fn one_network_change_at_a_time() {
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    // A repair under way: no removal.
    replace(&mut h, 1, 1, card(77));
    replace(&mut h, 2, 1, card(77));
    let e = remove(&mut h, 1, 2).error.unwrap();
    assert!(e.contains("still repairing"), "{e}");
    // A removal whose refresh has not finished: no replacement, and no replacing a removed node.
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    remove(&mut h, 1, 3);
    remove(&mut h, 2, 3);
    let e = replace(&mut h, 1, 1, card(77)).error.unwrap();
    assert!(e.contains("was removed"), "{e}");
    let e = h
        .user(
            1,
            "rep2",
            Action::NodeReplace {
                node_id: 2,
                replacement: 1,
                card: card(78),
            },
        )
        .error
        .unwrap();
    assert!(e.contains("removal is still under way"), "{e}");
}

fn add(h: &mut H, admin: u8, node_id: u64, seed: u8) -> CommandOutcome {
    h.user(
        admin,
        &format!("add-{node_id}-{admin}-{seed}"),
        Action::NodeAdd {
            node_id,
            card: card(seed),
        },
    )
}

#[test]
fn a_node_is_added_by_a_genesis_admin_quorum_gets_its_shares_and_joins_after_a_refresh() {
    let (mut h, _, _) = setup_in(three_admins(), two_of_three());
    let aux_before = h.s.aux().attempt;
    let e = add(&mut h, 11, 4, 44).error.unwrap();
    assert!(e.contains("genesis admin"), "{e}");
    let e = add(&mut h, 1, 3, 44).error.unwrap();
    assert!(e.contains("above 3"), "{e}");
    let e = h
        .user(
            1,
            "reuse",
            Action::NodeAdd {
                node_id: 4,
                card: NodeCard {
                    identity_key: UserKey(node_key(2).verifying_key().to_bytes()),
                    ..card(44)
                },
            },
        )
        .error
        .unwrap();
    assert!(e.contains("already a node's key"), "{e}");
    // One signature: pending; node 4 reports nothing yet.
    assert!(add(&mut h, 1, 4, 44).error.is_none());
    assert_eq!(h.s.members(), vec![1, 2, 3]);
    let new_key = SigningKey::from_bytes(&[44; 32]);
    let repaired = |h: &mut H| {
        h.report_signed(
            4,
            &new_key,
            Report::VaultRepaired {
                vault_id: "v1".into(),
                replacement: 0,
                attempt: 1,
            },
        )
    };
    let e = repaired(&mut h).error.unwrap();
    assert!(e.contains("unknown node 4"), "{e}");
    // The second: node 4 is a member; every vault repairs a share in for it.
    assert!(add(&mut h, 2, 4, 44).error.is_none());
    assert_eq!(h.s.members(), vec![1, 2, 3, 4]);
    assert_eq!(h.s.aux().attempt, aux_before + 1);
    let rep = h.s.vault("v1").unwrap().repair.clone().unwrap();
    assert_eq!(
        (rep.node_id, rep.replacement, rep.helpers.clone()),
        (4, 0, vec![1, 2])
    );
    let job = h.s.repair_job("v1", 1).unwrap();
    assert!(job.addition);
    assert_eq!(job.card, card(44));
    assert_eq!(job.committee, vec![1, 2, 3]);
    assert!(h.s.repair_job("v1", 4).is_ok());
    assert!(h.s.repair_job("v1", 3).is_err());
    assert_eq!(h.s.pinned_node(4).unwrap().card, Some(card(44)));
    // A forged addition (the card swapped) is refused by every party.
    let mut forged = h.s.clone();
    forged.additions.get_mut(&4).unwrap().card = card(66);
    let e = forged.repair_job("v1", 1).unwrap_err();
    assert!(e.contains("about another change"), "{e}");
    assert!(forged.pinned_node(4).is_err());
    // No other change meanwhile.
    let e = remove(&mut h, 1, 3).error.unwrap();
    assert!(e.contains("still repairing"), "{e}");
    // Node 4's own report ends the repair; a refresh among the four follows.
    assert!(repaired(&mut h).error.is_none());
    let v = h.s.vault("v1").unwrap().clone();
    let running = v.refresh.clone().unwrap();
    assert_eq!(running.adds, vec![4]);
    assert!(
        running.reason.contains("node 4 was added"),
        "{}",
        running.reason
    );
    assert_eq!(running.new_committee(&v.committee), vec![1, 2, 3, 4]);
    let d = "cd".repeat(32);
    for n in [1, 2, 3] {
        assert!(refreshed(&mut h, n, &d).error.is_none());
    }
    assert!(
        h.s.vault("v1").unwrap().refresh.is_some(),
        "node 4 has not reported"
    );
    let r = h.s.vault("v1").unwrap().refresh.clone().unwrap();
    let report = Report::VaultRefreshed {
        vault_id: "v1".into(),
        epoch: r.epoch,
        generation: r.started_log_index,
        digest: d.clone(),
    };
    assert!(h.report_signed(4, &new_key, report).error.is_none());
    let v = h.s.vault("v1").unwrap().clone();
    assert_eq!(v.committee, vec![1, 2, 3, 4]);
    assert_eq!(h.s.verify_refresh_completion("v1", &d), Ok(1));
    let mut forged = h.s.clone();
    let rec = forged.additions.get_mut(&4).unwrap();
    let first = *rec.approvals.keys().next().unwrap();
    rec.approvals.retain(|k, _| *k == first);
    assert!(forged.verify_refresh_completion("v1", &d).is_err());
    // Now the network can change again: e.g. remove a genesis node.
    assert!(remove(&mut h, 1, 1).error.is_none());
}
