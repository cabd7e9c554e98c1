//! Per-key write admission: a token bucket per signer key, so that one member's key cannot
//! crowd the log (strangers are refused before this, see `ClusterHandle::submit`). Bounded: at
//! most [`MAX_TRACKED_KEYS`] keys are tracked; when full, buckets that are full again (idle keys)
//! are dropped, and if none is, the new key is refused until one is.

use mpc_custody::types::UserKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Sustained writes per second one key may make.
pub const WRITES_PER_SEC: f64 = 500.0;
/// Burst size: writes one key may make at once.
pub const WRITE_BURST: f64 = 1000.0;
/// Most keys tracked at once.
pub const MAX_TRACKED_KEYS: usize = 10_000;

/// Token buckets by signer key.
#[derive(Debug, Default)]
pub struct WriteLimiter {
    buckets: Mutex<HashMap<UserKey, (f64, Instant)>>,
}

impl WriteLimiter {
    /// Takes one token for `key` at `now`, or says why not.
    pub fn admit(&self, key: &UserKey, now: Instant) -> Result<(), String> {
        let mut b = self
            .buckets
            .lock()
            .map_err(|_| "write limiter poisoned".to_string())?;
        let refill = |(tokens, at): (f64, Instant)| {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            (tokens + dt * WRITES_PER_SEC).min(WRITE_BURST)
        };
        if !b.contains_key(key) && b.len() >= MAX_TRACKED_KEYS {
            b.retain(|_, v| refill(*v) < WRITE_BURST);
            if b.len() >= MAX_TRACKED_KEYS {
                return Err("too many keys are writing at once; retry shortly".into());
            }
        }
        let entry = b.entry(*key).or_insert((WRITE_BURST, now));
        let tokens = refill(*entry);
        if tokens < 1.0 {
            return Err(format!(
                "this key sends more than {WRITES_PER_SEC} writes per second; retry shortly"
            ));
        }
        *entry = (tokens - 1.0, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = WriteLimiter::default();
        let k = UserKey([1; 32]);
        let t0 = Instant::now();
        for _ in 0..WRITE_BURST as usize {
            l.admit(&k, t0).unwrap();
        }
        assert!(l.admit(&k, t0).unwrap_err().contains("per second"));
        // Another key is not affected.
        l.admit(&UserKey([2; 32]), t0).unwrap();
        // 10 ms later: five more tokens.
        let t1 = t0 + Duration::from_millis(10);
        for _ in 0..5 {
            l.admit(&k, t1).unwrap();
        }
        assert!(l.admit(&k, t1).is_err());
    }
}
