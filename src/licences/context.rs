//! What the licence layer needs, built once at start-up: the CA, department signers, licence types,
//! the caches of verification, and the audit layer it records into.

use std::sync::Arc;

use moka::sync::Cache;

use super::catalogue::LicenceType;
use super::vc::Signer;
use super::verify::{Memo, RepositoryFacts};
use crate::audit::Audit;
use crate::crypto::keys::KeyDir;
use crate::crypto::pool::CpuPool;
use crate::metrics::Metrics;
use crate::oidc::Provider;
use crate::pki::Ca;
use crate::storage::departments::DepartmentRow;
use crate::storage::Db;

#[derive(Clone)]
pub struct Licences {
    pub db: Db,
    /// The issuer URL without a trailing slash.
    pub issuer: String,
    /// Data keys: holders' ID numbers are blind-indexed with them.
    pub keys: Arc<KeyDir>,
    /// The licence CA (root and intermediate; the intermediate key signs department certificates).
    pub ca: Arc<Ca>,
    /// Department signers (key + `x5c` chain) by "department purpose"; invalidated on renewal and
    /// revocation through this node, and expiring after a minute for changes made elsewhere.
    pub signers: Cache<String, Arc<Signer>>,
    /// Signed status-list tokens by department id; invalidated on every status change through this node.
    pub status_lists: Cache<String, Arc<String>>,
    /// Licence types by code.
    pub licence_types: Cache<String, Arc<LicenceType>>,
    /// Departments by the id of their OAuth client, and enterprises' registered names by USCC: rows
    /// that are never updated or deleted, so what was found stays true (misses are not kept: a
    /// department or enterprise registered later is found at once). The minute's expiry bounds an
    /// operator's edit by hand. Issuance and every department call would otherwise read them.
    pub departments: Cache<String, Arc<DepartmentRow>>,
    pub enterprise_names: Cache<String, Arc<str>>,
    /// What verification remembers: validated certificate chains by header, decoded licences by string.
    pub verify_memo: Arc<Memo>,
    /// What the repository knows of a licence (status history, certificate revocation), by licence id,
    /// for verification: invalidated on every status change and certificate revocation through this
    /// node, and at most 2 seconds old for changes made on another node.
    pub licence_facts: Cache<String, Arc<RepositoryFacts>>,
    /// Threads for short CPU-bound work (licence verification), one per core.
    pub cpu: CpuPool,
    /// Issuance transactions allowed to wait for the database at once (4 on SQLite's single
    /// connection; the pool size on PostgreSQL): beyond that they wait here, not ahead of the sealer.
    pub write_slots: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<Metrics>,
    /// The audit log and the transparency log, which every change records into.
    pub audit: Audit,
    /// Clients: a department is an OAuth client.
    pub provider: Provider,
}
