//! Failed-login throttling, per account (or per unknown identifier, so enumeration gains nothing) and
//! per client address, in the database: every node sharing it counts the same attempts.
//!
//! An attempt is *reserved* before its password is hashed (`reserve`), and the reservation is the
//! count: a wrong password leaves it, a right one clears the account's count ("failures in a row").
//! Checking first and counting the failure after the hash let 150 concurrent guesses all pass the
//! check while the first ones were still hashing; reserving first means that of any number of
//! concurrent attempts, at one node or several, at most the limit are ever evaluated.

use crate::crypto::{b64url, pii::DataKeys};
use crate::storage::{self, Db, StorageError};

#[derive(Clone)]
pub struct Throttle {
    max_per_account: u32,
    max_per_address: u32,
    window_secs: i64,
}

/// An attempt's reservation: whether it may be evaluated, and the key to clear if it succeeds.
pub struct Reservation {
    pub allowed: bool,
    account_key: String,
    address_key: String,
}

impl Throttle {
    pub fn new(max_per_account: u32, max_per_address: u32, window_secs: u64) -> Self {
        Self {
            max_per_account,
            max_per_address,
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX),
        }
    }

    /// Reserve an attempt for `account_key` (an account id, or the identifier typed when it names
    /// none) from `address`. The keys are stored as blind indexes, never in clear.
    pub async fn reserve(
        &self,
        db: &Db,
        data: &DataKeys,
        account_key: &str,
        address: &str,
        now: i64,
    ) -> Result<Reservation, StorageError> {
        let key = |k: String| b64url(data.blind_index(&format!("throttle:{k}")));
        let account = key(format!("a:{account_key}"));
        let addr = key(format!("ip:{address}"));
        // Always in this order (account, then address), so two reservations never wait on each
        // other's rows in a cycle.
        let n = storage::throttle::reserve_attempts(db, &[&account, &addr], self.window_secs, now)
            .await?;
        let allowed = n
            .first()
            .is_some_and(|&a| a <= i64::from(self.max_per_account))
            && n.get(1)
                .is_some_and(|&a| a <= i64::from(self.max_per_address));
        Ok(Reservation {
            allowed,
            account_key: account,
            address_key: addr,
        })
    }

    /// A successful login clears the account's count and gives the address its attempt back: an
    /// address counts failures (and attempts in flight), so an office behind one NAT address is not
    /// throttled by its colleagues' logins.
    pub async fn succeeded(&self, db: &Db, r: &Reservation) -> Result<(), StorageError> {
        storage::throttle::succeeded(db, &r.account_key, &r.address_key).await
    }
}
