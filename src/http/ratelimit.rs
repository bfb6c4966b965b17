//! A fixed one-second window of requests per client address, for the public verification endpoint.
//!
//! A moka cache did this before, but every request is a write there (an insert, a write-log entry and
//! periodic housekeeping); a mutex over a small map costs a fraction of that. The map holds only the
//! addresses seen in the current second and is cleared when the second changes, so it stays small.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct PerSecond {
    inner: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    second: i64,
    counts: HashMap<String, u32>,
}

impl PerSecond {
    /// Count one request from `addr` at `now` (Unix seconds); true if it is within `limit` for this
    /// second.
    pub fn allow(&self, addr: &str, now: i64, limit: u32) -> bool {
        let mut w = match self.inner.lock() {
            Ok(w) => w,
            // A panic while holding the lock cannot leave the counts inconsistent: carry on.
            Err(poisoned) => poisoned.into_inner(),
        };
        if w.second != now {
            w.second = now;
            w.counts.clear();
        }
        let n = match w.counts.get_mut(addr) {
            Some(n) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                w.counts.insert(addr.to_owned(), 1);
                1
            }
        };
        n <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::PerSecond;

    #[test]
    fn counts_per_address_within_one_second() {
        let r = PerSecond::default();
        assert!(r.allow("a", 10, 2) && r.allow("a", 10, 2));
        assert!(!r.allow("a", 10, 2), "the third in the same second");
        assert!(r.allow("b", 10, 2), "another address has its own count");
        assert!(r.allow("a", 11, 2), "a new second starts afresh");
    }
}
