//! Simulator invariant: every signature in the log verifies under the wallet key, checked here
//! independently of the state machine (ed25519-dalek over the Solana message) — also when a
//! Byzantine signer reports made-up signatures.

mod sim;

use mpc_custody::RequestStatus;

#[test]
fn every_signature_verifies_under_the_wallet_key() {
    sim::for_each_seed(80, |seed| {
        let byzantine = (seed % 2 == 1).then_some(1 + seed % 3);
        let s = sim::scenario_with(seed, 3, byzantine);
        let wallet_pk: [u8; 32] = s.wallet_pk().unwrap().try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&wallet_pk).unwrap();
        let mut signed = 0;
        for r in s.requests() {
            if r.status != RequestStatus::Signed {
                continue;
            }
            let msg = hex::decode(&r.payload).unwrap();
            for sig in &r.signatures {
                let bytes: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
                let sig = ed25519_dalek::Signature::from_bytes(&bytes);
                assert!(
                    vk.verify_strict(&msg, &sig).is_ok(),
                    "seed {seed}: {} has a signature that does not verify",
                    r.request_id
                );
                signed += 1;
            }
        }
        assert!(signed > 0, "seed {seed}: nothing was signed");
    });
}
