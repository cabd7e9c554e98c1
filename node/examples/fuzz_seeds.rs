//! Writes the seed corpus of the cargo-fuzz targets (`mpc_node::fuzz_targets::seeds`) under the
//! directory given as the first argument: `<dir>/<target>/seed-<n>`. See docs/fuzzing.md.

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    for (n, (target, bytes)) in mpc_node::fuzz_targets::seeds().into_iter().enumerate() {
        let d = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("seed-{n}")), bytes)?;
    }
    println!("seeds written under {dir}");
    Ok(())
}
