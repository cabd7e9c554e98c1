//! Where the operator's passphrase comes from: a file, an environment variable, or a prompt.

use crate::error::BootstrapError;
use crate::sealed::read_bounded;
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable holding the node passphrase.
pub const NODE_PASSPHRASE_ENV: &str = "MPC_PASSPHRASE";
/// Environment variable holding a user-key passphrase (CLI).
pub const KEY_PASSPHRASE_ENV: &str = "MPC_KEY_PASSPHRASE";

/// Obtains a passphrase: from `file` if given (first line), else from the environment variable
/// `env_var`, else by prompting on the terminal (twice when `confirm`).
pub fn obtain(
    file: Option<&Path>,
    env_var: &str,
    prompt: &str,
    confirm: bool,
) -> Result<Zeroizing<String>, BootstrapError> {
    if let Some(path) = file {
        let text = Zeroizing::new(read_bounded(path, 4096)?);
        let line = text.lines().next().unwrap_or("").to_string();
        return non_empty(Zeroizing::new(line));
    }
    if let Ok(v) = std::env::var(env_var) {
        // Read once, then removed from this process's environment, so that nothing started
        // later inherits it. (The kernel keeps the environment the process started with in
        // /proc/<pid>/environ, readable by the same user: prefer --passphrase-file.) Called at
        // start-up, before any other thread exists.
        std::env::remove_var(env_var);
        return non_empty(Zeroizing::new(v));
    }
    let first = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
        BootstrapError::NoPassphrase(format!(
            "set {env_var} or pass --passphrase-file (no terminal to prompt on: {e})"
        ))
    })?);
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Repeat passphrase: ")
                .map_err(|e| BootstrapError::NoPassphrase(e.to_string()))?,
        );
        if *first != *second {
            return Err(BootstrapError::NoPassphrase(
                "the two passphrases differ".into(),
            ));
        }
    }
    non_empty(first)
}

fn non_empty(p: Zeroizing<String>) -> Result<Zeroizing<String>, BootstrapError> {
    if p.is_empty() {
        return Err(BootstrapError::NoPassphrase(
            "the passphrase is empty".into(),
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_from_the_environment_is_removed_from_it() {
        let var = "MPC_TEST_PASSPHRASE_REMOVED_AFTER_READ";
        std::env::set_var(var, "correct horse");
        let p = obtain(None, var, "unused: ", false).unwrap();
        assert_eq!(p.as_str(), "correct horse");
        assert!(
            std::env::var(var).is_err(),
            "the passphrase is still in the environment"
        );
    }
}
