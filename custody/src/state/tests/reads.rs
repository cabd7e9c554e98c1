//! Who may read what (decision 0017): `CustodyState::may_read` from the committed membership.

use super::*;
use crate::read_auth::ReadScope::{self, Audit, Book, Org};

#[test]
fn each_role_reads_what_it_needs_and_nothing_more() {
    use Role::*;
    let s = run(vec![
        (1, "o", org_create_for("acme", 2), Ok(())),
        (2, "v", member_add("acme", "viewer", 30, &[Viewer]), Ok(())),
        (2, "op", member_add("acme", "op", 31, &[Operator]), Ok(())),
        (2, "au", member_add("acme", "aud", 32, &[Auditor]), Ok(())),
        (2, "ap", member_add("acme", "appr", 33, &[Approver]), Ok(())),
        (2, "in", member_add("acme", "ini", 34, &[Initiator]), Ok(())),
        (1, "o2", org_create("globex"), Ok(())),
    ]);
    let acme = OrgId("acme".into());
    let can = |seed: u8, scope: ReadScope| s.may_read(&pk(seed), &acme, scope).is_ok();
    // (key, org record, book, audit)
    let table = [
        (2, true, true, true),     // admin
        (30, true, true, false),   // viewer
        (31, true, false, false),  // operator
        (32, true, true, true),    // auditor
        (33, true, true, false),   // approver
        (34, true, true, false),   // initiator
        (1, true, false, true),    // genesis admin: bootstraps, sees the record and the log
        (99, false, false, false), // stranger
    ];
    for (seed, org_ok, book_ok, audit_ok) in table {
        assert_eq!(can(seed, Org), org_ok, "key {seed}: org");
        assert_eq!(can(seed, Book), book_ok, "key {seed}: book");
        assert_eq!(can(seed, Audit), audit_ok, "key {seed}: audit");
    }
    // Membership is per organisation: acme's admin is a stranger to globex.
    let globex = OrgId("globex".into());
    assert!(s.may_read(&pk(2), &globex, Book).is_err());
    assert!(
        s.may_read(&pk(1), &globex, Book).is_ok(),
        "globex's first admin"
    );
}
