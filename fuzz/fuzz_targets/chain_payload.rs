//! libFuzzer target: `mpc_node::fuzz_targets::chain_payload` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mpc_node::fuzz_targets::chain_payload(data);
});
