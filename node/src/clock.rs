//! The node's wall clock. Only drivers read it: the leader stamps proposals with it and
//! heartbeats carry it; `apply` never does.

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    #[cfg(feature = "forge-for-tests")]
    let now = now.saturating_add_signed(crate::forge::clock_offset_ms());
    now
}
