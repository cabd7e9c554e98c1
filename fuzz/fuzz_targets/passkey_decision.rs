//! libFuzzer target: `mpc_node::fuzz_targets::passkey_decision` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mpc_node::fuzz_targets::passkey_decision(data);
});
