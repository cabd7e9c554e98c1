//! Per-key admission: a token bucket per signer key, for writes (so that one member's key cannot
//! crowd the log; strangers are refused before this, see `ClusterHandle::submit`) and for
//! authenticated reads (so that one key cannot monopolise a node's RPC). Bounded: at most
//! [`MAX_TRACKED_KEYS`] keys are tracked; when full, buckets that are full again (idle keys) are
//! dropped, and if none is, the new key is refused until one is.

use mpc_custody::types::UserKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Sustained writes per second one key may make.
pub const WRITES_PER_SEC: f64 = 500.0;
/// Burst size: writes one key may make at once.
pub const WRITE_BURST: f64 = 1000.0;
/// Sustained authenticated reads per second one key may make on one node.
pub const READS_PER_SEC: f64 = 5000.0;
/// Burst size of reads.
pub const READ_BURST: f64 = 10_000.0;
/// Most keys tracked at once.
pub const MAX_TRACKED_KEYS: usize = 10_000;

/// Token buckets by signer key.
#[derive(Debug)]
pub struct KeyLimiter {
    what: &'static str,
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserKey, (f64, Instant)>>,
}

/// The limiter of writes.
pub type WriteLimiter = KeyLimiter;

impl Default for KeyLimiter {
    fn default() -> Self {
        KeyLimiter::writes()
    }
}

impl KeyLimiter {
    /// [`WRITES_PER_SEC`], burst [`WRITE_BURST`].
    pub fn writes() -> Self {
        KeyLimiter::new("writes", WRITES_PER_SEC, WRITE_BURST)
    }

    /// [`READS_PER_SEC`], burst [`READ_BURST`].
    pub fn reads() -> Self {
        KeyLimiter::new("reads", READS_PER_SEC, READ_BURST)
    }

    fn new(what: &'static str, rate: f64, burst: f64) -> Self {
        KeyLimiter {
            what,
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at `now`, or says why not.
    pub fn admit(&self, key: &UserKey, now: Instant) -> Result<(), String> {
        let mut b = self
            .buckets
            .lock()
            .map_err(|_| "rate limiter poisoned".to_string())?;
        let (rate, burst) = (self.rate, self.burst);
        let refill = |(tokens, at): (f64, Instant)| {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            (tokens + dt * rate).min(burst)
        };
        if !b.contains_key(key) && b.len() >= MAX_TRACKED_KEYS {
            b.retain(|_, v| refill(*v) < burst);
            if b.len() >= MAX_TRACKED_KEYS {
                return Err(format!(
                    "too many keys are sending {} at once; retry shortly",
                    self.what
                ));
            }
        }
        let entry = b.entry(*key).or_insert((burst, now));
        let tokens = refill(*entry);
        if tokens < 1.0 {
            return Err(format!(
                "this key sends more than {rate} {} per second; retry shortly",
                self.what
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
        // Reads have their own, larger bucket.
        let r = KeyLimiter::reads();
        for _ in 0..READ_BURST as usize {
            r.admit(&k, t0).unwrap();
        }
        assert!(r.admit(&k, t0).unwrap_err().contains("reads per second"));
    }
}
