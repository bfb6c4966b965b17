//! Departments: registration issues each a licence-signing and a status-list-signing certificate from
//! the intermediate CA, with fresh P-256 keys sealed into the database. Renewal adds certificates;
//! revocation ends one (licences it signed before stay validly signed).

use crate::metrics::CacheName;
use std::sync::Arc;

use super::vc::Signer;
use crate::audit::{self, Action};
use crate::crypto::random_id;
use crate::domain::Uscc;
use crate::licences::context::Licences;
use crate::pki::{generate_department_key, DepartmentSubject, Purpose};
use crate::storage::{self, departments::CertRow, departments::DepartmentRow, StorageError};
use serde_json::json;

/// Department certificates live two years; renew before.
pub const CERT_LIFETIME_SECS: i64 = 2 * 365 * 86_400;

/// Why registering a department, or using its certificates, failed.
#[derive(Debug, thiserror::Error)]
pub enum DepartmentError {
    #[error("uscc: {0}")]
    BadUscc(String),
    #[error("iss must be an absolute URL")]
    IssNotAUrl,
    #[error("iss must use https")]
    IssNotHttps,
    #[error("a department needs a Chinese and an English name")]
    Names,
    #[error("no client {0}")]
    NoClient(String),
    #[error("{0}")]
    Conflict(String),
    /// Our side: a key, a certificate or a signer could not be made or opened (never the caller's doing).
    #[error("department keys: {0}")]
    Keys(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::LicenceSigning => "licence_signing",
        Purpose::StatusListSigning => "status_list_signing",
    }
}

pub struct NewDepartment<'a> {
    pub uscc: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub iss: &'a str,
    pub client_id: Option<&'a str>,
}

/// Issue a certificate of `purpose` for `d` with a new key; returns the row to store.
fn certify(
    ctx: &Licences,
    d: &DepartmentRow,
    purpose: Purpose,
    now: i64,
) -> Result<CertRow, DepartmentError> {
    let uscc = Uscc::parse(&d.uscc).map_err(|e| DepartmentError::BadUscc(e.to_string()))?;
    let key = generate_department_key().map_err(|e| DepartmentError::Keys(e.to_string()))?;
    let subject = DepartmentSubject {
        name: &d.name_zh,
        uscc: &uscc,
        iss_url: &d.iss,
    };
    let cert = ctx
        .ca
        .issue_department(
            &subject,
            purpose,
            key.public_key(),
            now,
            now + CERT_LIFETIME_SECS,
        )
        .map_err(|e| DepartmentError::Keys(format!("certificate: {e}")))?;
    Ok(CertRow {
        key_sealed: ctx.keys.data().seal_bytes(key.pkcs8_der(), &cert.serial),
        serial: cert.serial,
        department_id: d.id.clone(),
        purpose: purpose_name(purpose).to_owned(),
        cert_der: cert.der,
        not_before: cert.not_before,
        not_after: cert.not_after,
        revoked_at: None,
    })
}

pub async fn register(
    ctx: &Licences,
    n: NewDepartment<'_>,
    actor: &str,
    now: i64,
) -> Result<DepartmentRow, DepartmentError> {
    let uscc = Uscc::parse(n.uscc).map_err(|e| DepartmentError::BadUscc(e.to_string()))?;
    let iss = url::Url::parse(n.iss).map_err(|_| DepartmentError::IssNotAUrl)?;
    if iss.scheme() != "https"
        && iss.host_str() != Some("localhost")
        && iss.host_str() != Some("127.0.0.1")
    {
        return Err(DepartmentError::IssNotHttps);
    }
    if n.name_zh.trim().is_empty() || n.name_en.trim().is_empty() {
        return Err(DepartmentError::Names);
    }
    if let Some(c) = n.client_id {
        if crate::oidc::clients::get(&ctx.provider, c).await?.is_none() {
            return Err(DepartmentError::NoClient(c.to_owned()));
        }
    }
    let d = DepartmentRow {
        id: format!("d_{}", &random_id()[..16]),
        uscc: uscc.as_str().to_owned(),
        name_zh: n.name_zh.trim().to_owned(),
        name_en: n.name_en.trim().to_owned(),
        iss: n.iss.to_owned(),
        client_id: n.client_id.map(str::to_owned),
    };
    let certs = [
        certify(ctx, &d, Purpose::LicenceSigning, now)?,
        certify(ctx, &d, Purpose::StatusListSigning, now)?,
    ];
    let mut tx = ctx.db.begin().await?;
    storage::departments::insert(&mut tx, &d, now)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(w) => {
                DepartmentError::Conflict(format!("a department with this {w} exists"))
            }
            e => e.into(),
        })?;
    for c in &certs {
        storage::departments::insert_cert(&mut tx, c, now).await?;
    }
    let serials: Vec<&str> = certs.iter().map(|c| c.serial.as_str()).collect();
    audit::record(
        &mut tx,
        now,
        actor,
        Action::DepartmentRegistered,
        &format!("department:{}", d.id),
        json!({ "uscc": d.uscc, "iss": d.iss, "client": d.client_id, "certificates": serials }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(d)
}

/// New certificates for both purposes; the old ones stay valid until they expire or are revoked.
pub async fn renew(
    ctx: &Licences,
    d: &DepartmentRow,
    actor: &str,
    now: i64,
) -> Result<Vec<String>, DepartmentError> {
    let certs = [
        certify(ctx, d, Purpose::LicenceSigning, now)?,
        certify(ctx, d, Purpose::StatusListSigning, now)?,
    ];
    let mut tx = ctx.db.begin().await?;
    for c in &certs {
        storage::departments::insert_cert(&mut tx, c, now).await?;
    }
    let serials: Vec<&str> = certs.iter().map(|c| c.serial.as_str()).collect();
    audit::record(
        &mut tx,
        now,
        actor,
        Action::DepartmentCertificatesRenewed,
        &format!("department:{}", d.id),
        json!({ "certificates": serials }),
    )
    .await?;
    crate::storage::notify::changed(&mut tx, crate::storage::notify::CERTIFICATES).await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.signers.invalidate_all();
    Ok(certs.iter().map(|c| c.serial.clone()).collect())
}

pub async fn revoke_cert(
    ctx: &Licences,
    serial: &str,
    reason: &str,
    actor: &str,
    now: i64,
) -> Result<bool, DepartmentError> {
    let mut tx = ctx.db.begin().await?;
    let done = storage::departments::revoke_cert(&mut tx, serial, reason, now).await?;
    if done {
        audit::record(
            &mut tx,
            now,
            actor,
            Action::DepartmentCertificateRevoked,
            &format!("certificate:{serial}"),
            json!({ "reason": reason }),
        )
        .await?;
        crate::storage::notify::changed(&mut tx, crate::storage::notify::CERTIFICATES).await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    ctx.signers.invalidate_all();
    ctx.licence_facts.invalidate_all();
    Ok(done)
}

/// The department's current signer for `purpose`, through the cache.
pub async fn signer(
    ctx: &Licences,
    department_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Arc<Signer>>, DepartmentError> {
    let key = format!("{department_id} {}", purpose_name(purpose));
    if let Some(s) = ctx
        .metrics
        .lookup(CacheName::Signers, ctx.signers.get(&key))
    {
        return Ok(Some(s));
    }
    let Some(c) =
        storage::departments::current_cert(&ctx.db, department_id, purpose_name(purpose), now)
            .await?
    else {
        return Ok(None);
    };
    let pkcs8 = ctx
        .keys
        .data()
        .open_bytes(&c.key_sealed, &c.serial)
        .map_err(|_| DepartmentError::Keys("a department key does not unseal".into()))?;
    let chain = [c.cert_der.clone(), ctx.ca.intermediate_der().to_vec()];
    let s = Arc::new(
        Signer::new(c.serial.clone(), &pkcs8, &chain)
            .map_err(|e| DepartmentError::Keys(e.to_string()))?,
    );
    ctx.signers.insert(key, s.clone());
    Ok(Some(s))
}

/// A department by id.
pub async fn department(
    ctx: &Licences,
    id: &str,
) -> Result<Option<DepartmentRow>, storage::StorageError> {
    storage::departments::by_id(&ctx.db, id).await
}

/// A department by its unified social credit code.
pub async fn department_by_uscc(
    ctx: &Licences,
    uscc: &str,
) -> Result<Option<DepartmentRow>, storage::StorageError> {
    storage::departments::by_uscc(&ctx.db, uscc).await
}

/// Every department, by USCC.
pub async fn departments(ctx: &Licences) -> Result<Vec<DepartmentRow>, storage::StorageError> {
    storage::departments::list(&ctx.db).await
}

/// Every certificate of a department, newest first.
pub async fn certs_of(
    ctx: &Licences,
    department_id: &str,
) -> Result<Vec<CertRow>, storage::StorageError> {
    storage::departments::certs_of(&ctx.db, department_id).await
}

/// A department certificate by serial.
pub async fn certificate(
    ctx: &Licences,
    serial: &str,
) -> Result<Option<CertRow>, storage::StorageError> {
    storage::departments::cert(&ctx.db, serial).await
}
