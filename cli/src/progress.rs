//! Progress of long operations on stderr (DKG, refresh): on a terminal one line rewritten in
//! place with the elapsed time; otherwise (logs, CI) a line every 5 s, so a script's output
//! stays readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Non-terminal output writes at most one line per this.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// One long operation's progress line.
pub(crate) struct Progress {
    tty: bool,
    started: Instant,
    last_line: Option<Instant>,
}

impl Progress {
    /// Starts timing now.
    pub(crate) fn start() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_line: None,
        }
    }

    /// Seconds since the start.
    pub(crate) fn secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Shows where the operation is.
    pub(crate) fn update(&mut self, what: &str) {
        let line = format!("  {what} ({} s)", self.secs());
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
            let _ = writeln!(err, "{line}");
            self.last_line = Some(Instant::now());
        }
    }

    /// Ends the line with how it went.
    pub(crate) fn finish(&mut self, what: &str) {
        let line = format!("  {what} ({} s)", self.secs());
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{line}");
    }
}

/// What a vault's DKG has reached: how many committee nodes have reported their result.
pub(crate) fn dkg_status(vault: &serde_json::Value) -> String {
    let committee = vault["committee"].as_array().map_or(0, Vec::len);
    let reported = vault["reports"].as_object().map_or(0, |r| r.len());
    format!("DKG running on every node: {reported} of {committee} nodes reported")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dkg_progress_counts_reports() {
        let v = json!({ "committee": [1, 2, 3], "reports": { "1": {}, "3": {} } });
        assert_eq!(
            dkg_status(&v),
            "DKG running on every node: 2 of 3 nodes reported"
        );
        assert_eq!(
            dkg_status(&json!({})),
            "DKG running on every node: 0 of 0 nodes reported"
        );
    }
}
