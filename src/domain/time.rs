//! The clock is read only at the edges (handlers, CLI, background tasks) and passed in as `now`
//! (seconds since the Unix epoch), so domain logic stays testable and deterministic.

pub type UnixTime = i64;

/// Read the wall clock. Call this only at an edge, never inside domain logic.
pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
