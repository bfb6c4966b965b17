//! Citizen accounts: registration with validated identifiers, login, password change.
//! Errors are catalogue keys (`templates/i18n/*.json`), shown to the person in their language.

use crate::crypto::password::{check_policy, PolicyError};
use crate::crypto::random_id;
use crate::domain::{DocumentKind, IdDocument};
use crate::identity::context::Identity;
use crate::storage::{self, accounts::AccountRow, StorageError, Tx};

/// Why registering an account, or changing its contact details or password, was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("email_invalid: the email address is not valid")]
    EmailInvalid,
    #[error("phone_invalid: the phone number is not valid")]
    PhoneInvalid,
    #[error("name_invalid: the name is empty or too long")]
    NameInvalid,
    #[error("id_number_invalid: the identity document number is not valid")]
    IdNumberInvalid,
    #[error("contact_required: an email address or a phone number is required")]
    ContactRequired,
    #[error("id_number_taken: an account holds this identity number proven already")]
    IdNumberTaken,
    /// The email address or phone number belongs to another account.
    #[error("contact_taken: an account with this email address or phone number exists already")]
    ContactTaken,
    #[error("wrong_current_password: the current password is wrong")]
    WrongCurrentPassword,
    #[error(transparent)]
    Password(#[from] PolicyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("password hashing failed")]
    Hashing,
}

impl AccountError {
    /// The message catalogue's key for a refusal shown to the person (`None`: a failure of ours).
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            Self::EmailInvalid => "email_invalid",
            Self::PhoneInvalid => "phone_invalid",
            Self::NameInvalid => "name_invalid",
            Self::IdNumberInvalid => "id_number_invalid",
            Self::ContactRequired => "contact_required",
            Self::IdNumberTaken => "id_number_taken",
            Self::ContactTaken => "contact_taken",
            Self::WrongCurrentPassword => "wrong_current_password",
            Self::Password(p) => p.key(),
            Self::Storage(_) | Self::Hashing => return None,
        })
    }
}

#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct Registration {
    pub name: String,
    #[serde(default)]
    pub id_kind: String,
    pub id_number: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default, skip_serializing)]
    pub password: String,
}

fn normalise_email(s: &str) -> Result<Option<String>, AccountError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let ok = s.len() <= 254
        && s.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !s.chars().any(char::is_whitespace);
    ok.then(|| Some(s.to_lowercase()))
        .ok_or(AccountError::EmailInvalid)
}

/// Mainland mobile numbers (11 digits starting with 1), optionally written with +86.
fn normalise_phone(s: &str) -> Result<Option<String>, AccountError> {
    let s: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if s.is_empty() {
        return Ok(None);
    }
    let digits = s.strip_prefix("+86").unwrap_or(&s);
    let ok =
        digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| Some(digits.to_owned()))
        .ok_or(AccountError::PhoneInvalid)
}

/// Register a citizen. Self-registration only *claims* the identity: it never blocks anyone
/// (another account may claim the same number) and reaches no licence. (A registration at a
/// service counter proves it at once: `proofing::register_at_counter`.)
pub async fn register(ctx: &Identity, r: &Registration, now: i64) -> Result<String, AccountError> {
    let p = prepare(ctx, r).await?;
    let mut tx = ctx.db.begin().await?;
    insert_prepared(&mut tx, &p, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(p.id)
}

/// A registration checked and its password hashed, ready to insert.
pub(super) struct Prepared {
    pub id: String,
    name: String,
    kind: DocumentKind,
    sealed: Vec<u8>,
    /// The blind index of the number claimed.
    pub index: Vec<u8>,
    email: Option<String>,
    phone: Option<String>,
    hash: String,
}

/// Check a registration (name, document, contact, password policy) and hash its password.
pub(super) async fn prepare(ctx: &Identity, r: &Registration) -> Result<Prepared, AccountError> {
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AccountError::NameInvalid);
    }
    let kind = DocumentKind::parse(r.id_kind.trim()).ok_or(AccountError::IdNumberInvalid)?;
    let doc = IdDocument::parse(kind, &r.id_number).map_err(|_| AccountError::IdNumberInvalid)?;
    let email = normalise_email(&r.email)?;
    let phone = normalise_phone(&r.phone)?;
    if email.is_none() && phone.is_none() {
        return Err(AccountError::ContactRequired);
    }
    let mut idents = vec![doc.number(), name];
    idents.extend(email.as_deref().and_then(|e| e.split('@').next()));
    idents.extend(phone.as_deref());
    check_policy(&r.password, &idents).map_err(AccountError::Password)?;
    let hash = ctx
        .passwords
        .hash(r.password.clone())
        .await
        .map_err(|_| AccountError::Hashing)?;
    let data = ctx.keys.data();
    let id = format!("p_{}", random_id());
    Ok(Prepared {
        sealed: data.seal(doc.number(), &id),
        index: data.blind_index(&doc.canonical()),
        id,
        name: name.to_owned(),
        kind,
        email,
        phone,
        hash,
    })
}

/// Insert a prepared registration as a claimed identity (its licence index a placeholder).
pub(super) async fn insert_prepared(
    tx: &mut Tx,
    p: &Prepared,
    now: i64,
) -> Result<(), AccountError> {
    storage::accounts::insert(
        tx,
        storage::accounts::NewAccount {
            id: &p.id,
            name: &p.name,
            id_kind: p.kind.as_str(),
            id_number_sealed: p.sealed.clone(),
            id_number_index: storage::proofing::claimed_placeholder(&p.id),
            claimed_index: p.index.clone(),
            proven_at: None,
            email: p.email.as_deref(),
            phone: p.phone.as_deref(),
            password_hash: &p.hash,
            loa: 1,
            now,
        },
    )
    .await
    .map_err(|e| match e {
        StorageError::Conflict(_) => AccountError::ContactTaken,
        e => e.into(),
    })
}

/// Re-enable a disabled account (the operator); false if it was not disabled.
pub async fn enable(ctx: &Identity, account_id: &str, now: i64) -> Result<bool, StorageError> {
    let a = storage::accounts::by_id(&ctx.db, account_id).await?;
    if a.is_none_or(|a| a.disabled_at.is_none()) {
        return Ok(false);
    }
    let mut tx = ctx.db.begin().await?;
    storage::accounts::set_disabled(&mut tx, account_id, None, now).await?;
    crate::audit::record(
        &mut tx,
        now,
        "operator:cli",
        crate::audit::Action::AccountEnabled,
        &format!("account:{account_id}"),
        serde_json::Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Find an account by what a person types to log in: email, mobile number or identity document number.
pub async fn find_by_identifier(
    ctx: &Identity,
    ident: &str,
) -> Result<Option<AccountRow>, StorageError> {
    let ident = ident.trim();
    if ident.contains('@') {
        return match normalise_email(ident) {
            Ok(Some(e)) => storage::accounts::by_email(&ctx.db, &e).await,
            _ => Ok(None),
        };
    }
    if let Ok(Some(p)) = normalise_phone(ident) {
        return storage::accounts::by_phone(&ctx.db, &p).await;
    }
    let data = ctx.keys.data();
    for kind in [
        DocumentKind::Resident,
        DocumentKind::Passport,
        DocumentKind::HkMacaoPermit,
        DocumentKind::TaiwanPermit,
    ] {
        if let Ok(doc) = IdDocument::parse(kind, ident) {
            if let Some(a) =
                storage::accounts::by_id_index(&ctx.db, &data.blind_index(&doc.canonical())).await?
            {
                return Ok(Some(a));
            }
        }
    }
    Ok(None)
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid_credentials")]
    InvalidCredentials,
    #[error("throttled")]
    Throttled,
    #[error("account_disabled")]
    Disabled,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("password hashing failed")]
    Hashing,
}

impl LoginError {
    /// The catalogue key shown to the person.
    pub fn key(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled => "throttled",
            Self::Disabled => "account_disabled",
            Self::Storage(_) | Self::Hashing => "server_error",
        }
    }
}

/// Check a password login. Unknown identifiers cost one argon2id verification, like a wrong password.
pub async fn authenticate(
    ctx: &Identity,
    ident: &str,
    password: &str,
    address: &str,
    now: i64,
) -> Result<AccountRow, LoginError> {
    let account = find_by_identifier(ctx, ident).await?;
    let key = account
        .as_ref()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| ident.trim().to_lowercase());
    // The attempt is counted before the password is hashed: see `throttle`.
    let reservation = ctx
        .throttle
        .reserve(&ctx.db, ctx.keys.data(), &key, address, now)
        .await?;
    if !reservation.allowed {
        login_failed(ctx, account.as_ref(), address, "throttled", now).await;
        return Err(LoginError::Throttled);
    }
    let phc = account.as_ref().map(|a| a.password_hash.clone());
    let ok = ctx
        .passwords
        .verify(password.to_owned(), phc)
        .await
        .map_err(|_| LoginError::Hashing)?;
    match account {
        Some(a) if ok => {
            ctx.throttle.succeeded(&ctx.db, &reservation).await?;
            if a.disabled_at.is_some() {
                login_failed(ctx, Some(&a), address, "disabled", now).await;
                return Err(LoginError::Disabled);
            }
            ctx.metrics.login("succeeded");
            Ok(a)
        }
        account => {
            login_failed(ctx, account.as_ref(), address, "invalid_credentials", now).await;
            Err(LoginError::InvalidCredentials)
        }
    }
}

/// The audit event of a failed login: the account if the identifier named one (never the identifier
/// itself, which is personal data), the client address and why. A failure to record it is logged, not
/// shown to the person.
async fn login_failed(
    ctx: &Identity,
    account: Option<&AccountRow>,
    address: &str,
    why: &str,
    now: i64,
) {
    ctx.metrics.login(if why == "throttled" {
        "throttled"
    } else {
        "failed"
    });
    let object = account.map_or("account:unknown".to_owned(), |a| {
        format!("account:{}", a.id)
    });
    record_failure(ctx, &object, address, why, now).await;
}

/// The `login.failed` audit event of a sign-in step (a password, a second factor) refused for
/// `object` from `address`, and why. A failure to record it is logged, not shown to the person.
pub(super) async fn record_failure(
    ctx: &Identity,
    object: &str,
    address: &str,
    why: &str,
    now: i64,
) {
    let record = async {
        let mut tx = ctx.db.begin().await?;
        crate::audit::record(
            &mut tx,
            now,
            &format!("address:{address}"),
            crate::audit::Action::LoginFailed,
            object,
            serde_json::json!({ "reason": why }),
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)
    };
    if let Err(e) = record.await {
        tracing::error!(error = %e, "recording a failed login failed");
    }
}

pub async fn change_password(
    ctx: &Identity,
    account: &AccountRow,
    current: &str,
    new: &str,
    now: i64,
) -> Result<(), AccountError> {
    let ok = ctx
        .passwords
        .verify(current.to_owned(), Some(account.password_hash.clone()))
        .await
        .map_err(|_| AccountError::Hashing)?;
    if !ok {
        return Err(AccountError::WrongCurrentPassword);
    }
    let mut idents = vec![account.name.as_str()];
    idents.extend(account.email.as_deref());
    idents.extend(account.phone.as_deref());
    check_policy(new, &idents).map_err(AccountError::Password)?;
    let hash = ctx
        .passwords
        .hash(new.to_owned())
        .await
        .map_err(|_| AccountError::Hashing)?;
    let mut tx = ctx.db.begin().await?;
    storage::accounts::set_password_in(&mut tx, &account.id, &hash, now).await?;
    super::notices::notice(ctx, &mut tx, &account.id, "password_changed", now).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&account.id),
        crate::audit::Action::PasswordChanged,
        &crate::audit::account(&account.id),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.outbox.notify_one();
    Ok(())
}

/// The account's identity document number, unsealed. Only for the `id_number` scope and the account page.
pub fn id_number(ctx: &Identity, a: &AccountRow) -> Option<String> {
    ctx.keys.data().open(&a.id_number_sealed, &a.id).ok()
}

/// `110105**********2X`-style masking for display.
pub fn mask(number: &str) -> String {
    let n = number.chars().count();
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i + 2 >= n { c } else { '*' })
        .collect()
}

/// An account by id.
pub async fn account(
    ctx: &Identity,
    id: &str,
) -> Result<Option<storage::accounts::AccountRow>, storage::StorageError> {
    storage::accounts::by_id(&ctx.db, id).await
}
