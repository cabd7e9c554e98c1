//! TEST BUILDS ONLY: `mpc-node` that forges approvals (see `mpc_node::forge`). Never deploy.

use clap::Parser;

fn main() -> std::process::ExitCode {
    eprintln!("WARNING: mpc-node-forger is a deliberately faulty TEST node; never deploy it");
    mpc_node::forge::enable();
    let args = mpc_node::cli::Args::parse();
    match mpc_node::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
