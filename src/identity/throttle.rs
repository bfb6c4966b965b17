//! Failed-login throttling, per account (or per unknown identifier, so enumeration gains nothing) and
//! per client address. In memory, per node: with N nodes behind a balancer an attacker gets at most N
//! times the budget, which still caps guessing at a handful of attempts per minute.

use std::time::Duration;

use moka::sync::Cache;

pub struct Throttle {
    max_per_account: u32,
    max_per_address: u32,
    failures: Cache<String, u32>,
}

impl Throttle {
    pub fn new(max_per_account: u32, max_per_address: u32, window: Duration) -> Self {
        Self {
            max_per_account,
            max_per_address,
            failures: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(window)
                .build(),
        }
    }

    fn count(&self, key: &str) -> u32 {
        self.failures.get(key).unwrap_or(0)
    }

    /// Whether a login for `account_key` from `address` must be refused without checking the password.
    pub fn is_throttled(&self, account_key: &str, address: &str) -> bool {
        self.count(&format!("a:{account_key}")) >= self.max_per_account
            || self.count(&format!("ip:{address}")) >= self.max_per_address
    }

    pub fn record_failure(&self, account_key: &str, address: &str) {
        for key in [format!("a:{account_key}"), format!("ip:{address}")] {
            // Atomic per key: concurrent failures are all counted.
            self.failures
                .entry(key)
                .and_upsert_with(|n| n.map_or(1, |e| e.into_value().saturating_add(1)));
        }
    }

    /// A successful login clears the account's count ("in a row"); the address keeps its count.
    pub fn record_success(&self, account_key: &str) {
        self.failures.invalidate(&format!("a:{account_key}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_in_a_row_is_throttled() {
        let t = Throttle::new(10, 100, Duration::from_secs(900));
        for _ in 0..10 {
            assert!(!t.is_throttled("alice", "1.2.3.4"));
            t.record_failure("alice", "1.2.3.4");
        }
        assert!(t.is_throttled("alice", "1.2.3.4"));
        assert!(
            t.is_throttled("alice", "5.6.7.8"),
            "per account, whatever the address"
        );
        assert!(!t.is_throttled("bob", "1.2.3.4"));
    }
}
