//! libFuzzer target: `mpc_node::fuzz_targets::session_envelope` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mpc_node::fuzz_targets::session_envelope(data);
});
