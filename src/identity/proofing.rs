//! Identity proofing: an account's identity is *claimed* at registration and *proven* only by a
//! recorded proofing event — counter staff checking the document in person, a single-use activation
//! code a department sent by letter, or a registration at a counter. Proving a number detaches it
//! from every other account that only claimed it (each is told, and keeps its other data). Licences
//! follow only a proven identity (`licences::holdings`).

use serde_json::json;

use super::accounts;
use super::context::Identity;
use super::throttle::Throttle;
use crate::crypto::{random_id, secret_hash};
use crate::domain::{DocumentKind, IdDocument};
use crate::storage::{self, accounts::AccountRow, proofing::ProofingEvent, StorageError, Tx};

/// The staff role that proves identities in person.
pub const COUNTER: &str = "counter";

/// Wrong activation codes in a row an account may enter before it is throttled (the 6th is refused
/// unread), and for how long.
pub const CODE_ATTEMPTS: u32 = 5;
pub const CODE_THROTTLE_SECS: u64 = 15 * 60;

/// How an identity was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Counter staff checked the document in person.
    Counter,
    /// The person entered an activation code sent by letter to the registered address.
    ActivationCode,
    /// The account was registered at a counter, the document checked there.
    CounterRegistration,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::ActivationCode => "activation_code",
            Self::CounterRegistration => "counter_registration",
        }
    }
}

/// Who proved an identity, how, and on what evidence.
pub struct Proof<'a> {
    pub method: Method,
    /// The audit actor: `account:<staff id>`, `operator:cli`...
    pub actor: String,
    pub department_id: Option<&'a str>,
    /// A reference to the evidence: the document checked, the letter's number.
    pub evidence: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum ProofingError {
    #[error("no_account: no such account")]
    NoAccount,
    #[error("already_proven: the account's identity is proven already")]
    AlreadyProven,
    /// The document shown is not the identity the account claims (number, kind or name).
    #[error("identity_mismatch: the document does not match the identity the account claims")]
    Mismatch,
    /// Another account holds this identity number proven: only an operator can resolve it.
    #[error("identity_taken: another account holds this identity proven")]
    Taken,
    #[error("not_counter_staff: the account holds no counter role (of this department)")]
    NotCounterStaff,
    /// A staff member of several departments must name the one they act for.
    #[error("department_required: name the department you act for")]
    DepartmentRequired,
    #[error("evidence_required: describe the evidence checked (1 to 200 characters)")]
    EvidenceRequired,
    /// Unknown, used, expired, or bound to another identity number: one answer for all four.
    #[error("code_invalid: the activation code is not valid for this account")]
    CodeInvalid,
    #[error("throttled: too many wrong activation codes; try again later")]
    Throttled,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ProofingError {
    /// The message catalogue's key for a refusal shown to a person (`None`: a failure of ours).
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            Self::NoAccount => "no_account",
            Self::AlreadyProven => "already_proven",
            Self::Mismatch => "identity_mismatch",
            Self::Taken => "identity_taken",
            Self::NotCounterStaff => "not_counter_staff",
            Self::DepartmentRequired => "department_required",
            Self::EvidenceRequired => "evidence_required",
            Self::CodeInvalid => "code_invalid",
            Self::Throttled => "throttled",
            Self::Storage(_) => return None,
        })
    }
}

/// What proving did: the accounts the number was detached from.
#[derive(Debug, Default)]
pub struct Proven {
    pub detached: Vec<String>,
}

/// Is the account's identity proven?
pub fn is_proven(a: &AccountRow) -> bool {
    a.proven_at.is_some()
}

/// The blind index of a document, if it parses.
fn document_index(ctx: &Identity, id_kind: &str, id_number: &str) -> Option<Vec<u8>> {
    let kind = DocumentKind::parse(id_kind.trim())?;
    let doc = IdDocument::parse(kind, id_number).ok()?;
    Some(ctx.keys.data().blind_index(&doc.canonical()))
}

/// Prove account `account_id`'s claimed identity on a document checked: the document must be the
/// one the account claims (kind, number and name).
pub async fn prove(
    ctx: &Identity,
    account_id: &str,
    id_kind: &str,
    id_number: &str,
    name: &str,
    proof: &Proof<'_>,
    now: i64,
) -> Result<Proven, ProofingError> {
    let evidence = proof.evidence.trim();
    if evidence.is_empty() || evidence.chars().count() > 200 {
        return Err(ProofingError::EvidenceRequired);
    }
    let a = storage::accounts::by_id(&ctx.db, account_id)
        .await?
        .ok_or(ProofingError::NoAccount)?;
    if is_proven(&a) {
        return Err(ProofingError::AlreadyProven);
    }
    let index = document_index(ctx, id_kind, id_number).ok_or(ProofingError::Mismatch)?;
    if a.claimed_index.as_deref() != Some(index.as_slice())
        || a.id_kind != id_kind.trim()
        || a.name != name.trim()
    {
        return Err(ProofingError::Mismatch);
    }
    let mut tx = ctx.db.begin().await?;
    let proven = prove_in(ctx, &mut tx, &a.id, &index, proof, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    tracing::info!(method = proof.method.as_str(), "identity proven");
    Ok(proven)
}

/// Register a citizen at a service counter, the document checked there: the identity is proven at
/// once, detaching the number from the accounts that only claimed it; refused if another account
/// holds it proven.
pub async fn register_at_counter(
    ctx: &Identity,
    r: &accounts::Registration,
    proof: &Proof<'_>,
    now: i64,
) -> Result<String, accounts::AccountError> {
    let p = accounts::prepare(ctx, r).await?;
    if storage::proofing::proven_holder(&ctx.db, &p.index)
        .await?
        .is_some()
    {
        return Err(accounts::AccountError::IdNumberTaken);
    }
    let mut tx = ctx.db.begin().await?;
    accounts::insert_prepared(&mut tx, &p, now).await?;
    prove_in(ctx, &mut tx, &p.id, &p.index, proof, now)
        .await
        .map_err(|e| match e {
            ProofingError::Storage(e) => accounts::AccountError::Storage(e),
            _ => accounts::AccountError::IdNumberTaken,
        })?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(p.id)
}

/// Counter staff prove, in person, the identity of the person whose account `person` names (an
/// email, a phone number), on the document they checked.
#[allow(clippy::too_many_arguments)]
pub async fn prove_at_counter(
    ctx: &Identity,
    staff_id: &str,
    department: Option<&str>,
    person: &str,
    id_kind: &str,
    id_number: &str,
    name: &str,
    evidence: &str,
    now: i64,
) -> Result<Proven, ProofingError> {
    let department = counter_department(ctx, staff_id, department).await?;
    let a = accounts::find_by_identifier(ctx, person)
        .await?
        .ok_or(ProofingError::NoAccount)?;
    let proof = Proof {
        method: Method::Counter,
        actor: crate::audit::account(staff_id),
        department_id: Some(&department),
        evidence,
    };
    prove(ctx, &a.id, id_kind, id_number, name, &proof, now).await
}

/// The department a counter staff member acts for: the one named, or their only one.
async fn counter_department(
    ctx: &Identity,
    staff_id: &str,
    named: Option<&str>,
) -> Result<String, ProofingError> {
    let mine = storage::proofing::departments_with_role(&ctx.db, staff_id, COUNTER).await?;
    match named {
        Some(d) if mine.iter().any(|m| m == d) => Ok(d.to_owned()),
        Some(_) => Err(ProofingError::NotCounterStaff),
        None => match mine.as_slice() {
            [] => Err(ProofingError::NotCounterStaff),
            [one] => Ok(one.clone()),
            _ => Err(ProofingError::DepartmentRequired),
        },
    }
}

/// In `tx`: mark the account proven under `index`, detach the number from every account that only
/// claimed it (each told by a notice), and record the proofing event and the audit events.
async fn prove_in(
    ctx: &Identity,
    tx: &mut Tx,
    account_id: &str,
    index: &[u8],
    proof: &Proof<'_>,
    now: i64,
) -> Result<Proven, ProofingError> {
    if !storage::proofing::set_proven(tx, account_id, index, now)
        .await
        .map_err(|e| match e {
            // The UNIQUE index: another account holds this number proven.
            StorageError::Conflict(_) => ProofingError::Taken,
            e => e.into(),
        })?
    {
        return Err(ProofingError::AlreadyProven);
    }
    let detached = storage::proofing::claimants(tx, index, account_id).await?;
    for other in &detached {
        storage::proofing::detach(tx, other, now).await?;
        super::notices::notice(ctx, tx, other, "identity_detached", now).await?;
        crate::audit::record(
            tx,
            now,
            &proof.actor,
            crate::audit::Action::IdentityDetached,
            &format!("account:{other}"),
            json!({ "proven_by_account": account_id }),
        )
        .await?;
    }
    let event = ProofingEvent {
        id: format!("pe_{}", random_id()),
        account_id: account_id.to_owned(),
        method: proof.method.as_str().to_owned(),
        actor: proof.actor.clone(),
        department_id: proof.department_id.map(str::to_owned),
        evidence: proof.evidence.trim().to_owned(),
        at: now,
    };
    storage::proofing::insert_event(tx, &event).await?;
    super::notices::notice(ctx, tx, account_id, "identity_proven", now).await?;
    crate::audit::record(
        tx,
        now,
        &proof.actor,
        crate::audit::Action::IdentityProven,
        &format!("account:{account_id}"),
        json!({ "method": event.method, "department": event.department_id, "detached": detached.len() }),
    )
    .await?;
    Ok(Proven { detached })
}

/// A department issues an activation code for an identity number, to be sent by letter to the
/// registered address: 16 characters of Crockford base32 in groups of four (80 bits), single-use,
/// valid for `ttl_days`. Only its hash is stored.
pub async fn issue_code(
    ctx: &Identity,
    department_id: &str,
    id_kind: &str,
    id_number: &str,
    ttl_days: i64,
    now: i64,
) -> Result<String, ProofingError> {
    let index = document_index(ctx, id_kind, id_number).ok_or(ProofingError::Mismatch)?;
    let code = crate::crypto::random_code();
    let id = format!("ac_{}", random_id());
    let expires = now + ttl_days.clamp(1, 90) * 86_400;
    let mut tx = ctx.db.begin().await?;
    storage::proofing::insert_code(
        &mut tx,
        &id,
        &index,
        &secret_hash(&crate::crypto::normalise_code(&code)),
        department_id,
        now,
        expires,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::department(department_id),
        crate::audit::Action::ActivationCodeIssued,
        &format!("activation_code:{id}"),
        json!({ "expires_at": expires }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(code)
}

/// The signed-in person enters the activation code sent to them: valid (known, unused, unexpired,
/// bound to the number the account claims), it proves the identity. Wrong codes count against the
/// account like wrong passwords: the 6th in a row within 15 minutes is refused unread.
pub async fn redeem(
    ctx: &Identity,
    a: &AccountRow,
    code: &str,
    address: &str,
    now: i64,
) -> Result<Proven, ProofingError> {
    if is_proven(a) {
        return Err(ProofingError::AlreadyProven);
    }
    let throttle = Throttle::new(CODE_ATTEMPTS, u32::MAX, CODE_THROTTLE_SECS);
    let data = ctx.keys.data();
    let r = throttle
        .reserve(&ctx.db, data, &format!("activation:{}", a.id), address, now)
        .await?;
    if !r.allowed {
        return Err(ProofingError::Throttled);
    }
    let found = storage::proofing::code_by_hash(
        &ctx.db,
        &secret_hash(&crate::crypto::normalise_code(code)),
    )
    .await?;
    let Some(c) = found.filter(|c| {
        c.used_at.is_none()
            && c.expires_at > now
            && a.claimed_index.as_deref() == Some(c.id_number_index.as_slice())
    }) else {
        tracing::info!("activation code refused");
        return Err(ProofingError::CodeInvalid);
    };
    let proof = Proof {
        method: Method::ActivationCode,
        actor: crate::audit::account(&a.id),
        department_id: Some(&c.department_id),
        evidence: &format!("activation code {}", c.id),
    };
    let mut tx = ctx.db.begin().await?;
    if !storage::proofing::spend_code(&mut tx, &c.id, &a.id, now).await? {
        return Err(ProofingError::CodeInvalid);
    }
    let proven = prove_in(ctx, &mut tx, &a.id, &c.id_number_index, &proof, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    throttle.succeeded(&ctx.db, &r).await?;
    tracing::info!("identity proven by activation code");
    Ok(proven)
}

/// Grant an account a staff role in a department (the operator, from the CLI).
pub async fn grant_role(
    ctx: &Identity,
    account_id: &str,
    department_id: &str,
    role: &str,
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::proofing::grant_role(&mut tx, account_id, department_id, role, now).await?;
    crate::audit::record(
        &mut tx,
        now,
        "operator:cli",
        crate::audit::Action::StaffRoleGranted,
        &format!("account:{account_id}"),
        json!({ "department": department_id, "role": role }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// The account's proofing events, oldest first.
pub async fn events(ctx: &Identity, account_id: &str) -> Result<Vec<ProofingEvent>, StorageError> {
    storage::proofing::events_of(&ctx.db, account_id).await
}

/// The account's notices, newest first.
pub async fn notices(
    ctx: &Identity,
    account_id: &str,
) -> Result<Vec<storage::proofing::Notice>, StorageError> {
    storage::proofing::notices_of(&ctx.db, account_id).await
}
