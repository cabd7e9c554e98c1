//! `mpc-node`: see the crate documentation of `mpc_node`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = mpc_node::cli::Args::parse();
    match mpc_node::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
