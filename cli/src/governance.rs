//! `mpc proposal …`: governance proposals. An approving admin does not sign what the node says
//! the change is: the change is re-read from the proposer's signed command (its signature
//! verified here) and its hash recomputed here; any difference from the node's proposal is a
//! refusal.

use crate::args::{Args, ProposalCmd, ProposalRef};
use anyhow::Context;
use mpc_cli::client::RpcClient;
use mpc_custody::command::Action;
use mpc_custody::governance::change_hash;
use mpc_custody::types::{OrgId, ProposalId};
use mpc_custody::Proposal;
use serde_json::{json, Value};

/// Whether a write's result is a pending proposal (the change has not taken effect yet).
pub(crate) fn is_proposal(out: &Value) -> bool {
    out["result"]["type"] == "proposal"
}

pub(crate) fn run(args: &Args, client: &RpcClient, cmd: &ProposalCmd) -> anyhow::Result<Value> {
    Ok(match cmd {
        ProposalCmd::List { org, status } => client.call_all_pages(
            "proposal_list",
            json!({ "org_id": org, "status": status.clone().unwrap_or_else(|| "open".into()) }),
            "proposals",
        )?,
        ProposalCmd::Show { id } => {
            let cluster = crate::cluster_id(args, client)?;
            let (p, v) = fetch_checked(client, &cluster, id)?;
            print_change(&p);
            v
        }
        ProposalCmd::Approve { p, yes } => {
            let cluster = crate::cluster_id(args, client)?;
            let (proposal, _) = fetch_checked(client, &cluster, &p.id)?;
            print_change(&proposal);
            if !yes {
                crate::confirm("Approve this change?")?;
            }
            let action = Action::ProposalApprove {
                org_id: OrgId(p.signer.org.clone()),
                proposal_id: ProposalId(p.id.clone()),
                change_hash: change_hash(&cluster, &proposal.change),
            };
            write(args, client, "proposal_approve", p, action)?
        }
        ProposalCmd::Veto { p, reason } => {
            let action = Action::ProposalVeto {
                org_id: OrgId(p.signer.org.clone()),
                proposal_id: ProposalId(p.id.clone()),
                reason: reason.clone(),
            };
            write(args, client, "proposal_veto", p, action)?
        }
        ProposalCmd::Execute { p } => {
            let action = Action::ProposalExecute {
                org_id: OrgId(p.signer.org.clone()),
                proposal_id: ProposalId(p.id.clone()),
            };
            write(args, client, "proposal_execute", p, action)?
        }
    })
}

fn write(
    args: &Args,
    client: &RpcClient,
    method: &str,
    p: &ProposalRef,
    action: Action,
) -> anyhow::Result<Value> {
    crate::submit(args, client, method, &p.signer.idempotency_key, action)
}

/// The proposal, after checking that the change the node shows is the one the proposer signed
/// for this network and that the node's change hash is the one computed here.
fn fetch_checked(client: &RpcClient, cluster: &str, id: &str) -> anyhow::Result<(Proposal, Value)> {
    let v = client.call(
        "proposal_get",
        json!({ "proposal_id": id, "linearizable": true }),
    )?;
    let p: Proposal = serde_json::from_value(v.clone()).context("reading the proposal")?;
    check_proposal(&p, cluster)?;
    Ok((p, v))
}

/// Refuses a proposal whose change is not what its proposer signed, or whose change hash the
/// node computed differently.
pub(crate) fn check_proposal(p: &Proposal, cluster: &str) -> anyhow::Result<()> {
    let signed = p
        .proposal
        .verify(cluster)
        .map_err(|e| anyhow::anyhow!("the proposer's command does not verify: {e}"))?;
    if signed.body.action != p.change {
        anyhow::bail!("refusing: the node shows a change the proposer did not sign");
    }
    let mine = change_hash(cluster, &signed.body.action);
    if mine != p.change_hash {
        anyhow::bail!(
            "refusing: the node's change hash {} differs from the one computed here ({mine})",
            p.change_hash
        );
    }
    Ok(())
}

fn print_change(p: &Proposal) {
    eprintln!(
        "proposal {} ({}) in {}: {}",
        p.proposal_id,
        p.kind,
        p.org_id,
        p.status.name()
    );
    eprintln!("  proposed by {} (signature checked here)", p.proposed_by);
    let approvals: Vec<String> = std::iter::once(p.proposed_by.to_string())
        .chain(p.approvals.keys().map(|u| u.to_string()))
        .collect();
    eprintln!(
        "  approvals   {} of {} ({})",
        approvals.len(),
        p.quorum,
        approvals.join(", ")
    );
    if p.timelock_ms > 0 {
        eprintln!("  time-lock   {} s after the quorum", p.timelock_ms / 1000);
    }
    eprintln!("  change hash {} (recomputed here)", p.change_hash);
    eprintln!(
        "  change:\n{}",
        serde_json::to_string_pretty(&p.change).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_custody::command::{CommandBody, SignedCommand};
    use mpc_custody::types::{UserId, UserKey};

    fn proposal(change: Action, shown: Action) -> Proposal {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let body = CommandBody {
            cluster: "c1".into(),
            idempotency_key: "k".into(),
            action: change.clone(),
        };
        Proposal {
            proposal_id: ProposalId("prop-5".into()),
            org_id: OrgId("acme".into()),
            kind: change.kind().into(),
            change_hash: change_hash("c1", &shown),
            change: shown,
            proposed_by: UserId("root".into()),
            proposal: SignedCommand::sign(&body, &key).unwrap(),
            approvals: Default::default(),
            quorum: 2,
            timelock_ms: 0,
            status: mpc_custody::ProposalStatus::Pending,
            created_at_ms: 0,
            expires_at_ms: 1,
            executable_at_ms: None,
            closed_at_ms: None,
            note: None,
        }
    }

    fn add(user: &str) -> Action {
        Action::MemberAdd {
            org_id: OrgId("acme".into()),
            user_id: UserId(user.into()),
            public_key: UserKey([9; 32]),
            roles: vec![mpc_custody::types::Role::Approver],
        }
    }

    #[test]
    fn a_node_showing_another_change_than_the_signed_one_is_refused() {
        assert!(check_proposal(&proposal(add("bob"), add("bob")), "c1").is_ok());
        let e = check_proposal(&proposal(add("mallory"), add("bob")), "c1").unwrap_err();
        assert!(e.to_string().contains("did not sign"), "{e}");
        let mut p = proposal(add("bob"), add("bob"));
        p.change_hash = change_hash("c1", &add("eve"));
        let e = check_proposal(&p, "c1").unwrap_err();
        assert!(e.to_string().contains("differs"), "{e}");
        let e = check_proposal(&proposal(add("bob"), add("bob")), "c2").unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
    }
}
