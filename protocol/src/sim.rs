//! A deterministic in-process network for sessions: every party's session runs in one thread,
//! messages are delivered in FIFO order, and a hook may drop, corrupt or redirect any message.
//! Used by the protocol tests and benchmarks; the node uses real channels instead.

use crate::session::{Outgoing, PartyIndex, Recipient, Session, SessionError, Step};
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, VecDeque};

/// What the hook decides for one message.
pub enum Delivery {
    /// Deliver as is (the hook may have modified the bytes).
    Deliver,
    /// Drop it.
    Drop,
}

/// The result of a run: each party's output or error, and every rejected message.
pub struct SimResult<O> {
    /// Per party: `Ok(output)` or the error that stopped it (`Err` also when it never finished).
    pub outputs: BTreeMap<PartyIndex, Result<O, SessionError>>,
    /// Messages that were rejected without stopping their recipient.
    pub rejected: Vec<(PartyIndex, SessionError)>,
}

/// Most messages one run delivers before it gives up.
const MAX_DELIVERIES: usize = 100_000;

/// Runs `sessions` to completion. `hook(from, to, bytes)` sees every message before delivery.
pub fn run<S, R>(
    mut sessions: BTreeMap<PartyIndex, S>,
    rng: &mut R,
    mut hook: impl FnMut(PartyIndex, PartyIndex, &mut Vec<u8>) -> Delivery,
) -> SimResult<S::Output>
where
    S: Session,
    R: RngCore + CryptoRng,
{
    let parties: Vec<PartyIndex> = sessions.keys().copied().collect();
    let mut queue: VecDeque<(PartyIndex, PartyIndex, Vec<u8>)> = VecDeque::new();
    let mut outputs = BTreeMap::new();
    let mut rejected = Vec::new();
    let enqueue = |queue: &mut VecDeque<_>, from: PartyIndex, msgs: Vec<Outgoing>| {
        for m in msgs {
            match m.to {
                Recipient::All => {
                    for p in &parties {
                        if *p != from {
                            queue.push_back((from, *p, m.bytes.clone()));
                        }
                    }
                }
                Recipient::One(p) => queue.push_back((from, p, m.bytes)),
            }
        }
    };
    for (p, s) in sessions.iter_mut() {
        match s.start(rng) {
            Ok(msgs) => enqueue(&mut queue, *p, msgs),
            Err(e) => {
                outputs.insert(*p, Err(e));
            }
        }
    }
    let mut delivered = 0;
    while let Some((from, to, mut bytes)) = queue.pop_front() {
        delivered += 1;
        if delivered > MAX_DELIVERIES {
            break;
        }
        if outputs.contains_key(&to) {
            continue;
        }
        if let Delivery::Drop = hook(from, to, &mut bytes) {
            continue;
        }
        let Some(session) = sessions.get_mut(&to) else {
            continue;
        };
        match session.handle(from, &bytes, rng) {
            Ok(Step::Continue(msgs)) => enqueue(&mut queue, to, msgs),
            Ok(Step::Done(o, msgs)) => {
                enqueue(&mut queue, to, msgs);
                outputs.insert(to, Ok(o));
            }
            Err(e @ SessionError::Rejected { .. }) => rejected.push((to, e)),
            Err(e) => {
                outputs.insert(to, Err(e));
            }
        }
    }
    for p in parties {
        outputs.entry(p).or_insert_with(|| {
            Err(SessionError::Abort {
                culprits: Vec::new(),
                reason: "did not finish (messages missing)".into(),
            })
        });
    }
    SimResult { outputs, rejected }
}

/// Delivers every message unchanged.
pub fn honest(_: PartyIndex, _: PartyIndex, _: &mut Vec<u8>) -> Delivery {
    Delivery::Deliver
}

/// All `t`-element subsets of `parties`, in order (for tests that sign with every subset).
pub fn subsets(parties: &[PartyIndex], t: usize) -> Vec<Vec<PartyIndex>> {
    if t == 0 {
        return vec![vec![]];
    }
    let Some((first, rest)) = parties.split_first() else {
        return vec![];
    };
    let mut with: Vec<Vec<PartyIndex>> = subsets(rest, t - 1)
        .into_iter()
        .map(|mut v| {
            v.insert(0, *first);
            v
        })
        .collect();
    with.extend(subsets(rest, t));
    with
}
