//! Simulator invariant: nodes that applied the same log index hold the same state (hash of the
//! whole custody state), whatever the faults, crashes and restarts along the way.

mod sim;

#[test]
fn equal_applied_index_means_equal_state_hash() {
    sim::for_each_seed(80, |seed| {
        let s = sim::scenario(seed, 3);
        let mut compared = 0;
        for (index, by_node) in &s.hashes {
            let mut hashes = by_node.values();
            let first = hashes.next().copied();
            assert!(
                hashes.all(|h| Some(*h) == first),
                "seed {seed}: nodes disagree at applied index {index}"
            );
            compared += by_node.len();
        }
        assert!(compared > 0, "seed {seed}: nothing compared");
    });
}
