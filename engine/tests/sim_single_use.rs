//! Simulator invariant: each node joins each session id at most once, ever — across crashes
//! and restarts — so no FROST nonce (made inside the session) is ever used twice. Two layers:
//! the engine never asks for the same session twice while it runs (its job memory), and the
//! share store's joined-session set refuses a second join after a restart.

mod sim;

#[test]
fn every_session_is_joined_at_most_once_per_node() {
    sim::for_each_seed(80, |seed| {
        let s = sim::scenario(seed, 3);
        for n in &s.nodes {
            let mut seen = std::collections::BTreeSet::new();
            for start in &n.starts {
                assert!(
                    seen.insert(*start),
                    "seed {seed}: node {}'s engine started a session twice in one run",
                    n.id
                );
            }
            assert_eq!(
                n.store.join_log.len(),
                n.store.joined.len(),
                "seed {seed}: node {} joined a session twice",
                n.id
            );
        }
    });
}
