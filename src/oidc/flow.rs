//! The steps of the authorization flow as the pages take them: where a pending request goes next
//! (login, enterprise choice, consent, or the code), the person's choice of whom to act for, the
//! consent screen's facts and the person's decision. The pages only parse and render.

use std::sync::Arc;

use super::authorize::{self, AuthRequest, Step};
use super::clients::{self, Client};
use super::error::{ErrorCode, OAuthError};
use super::{consents, pending, Provider};
use crate::storage::{self, sessions::SessionRow, StorageError};

/// Where a pending request `id` goes next for this session (`None`: not signed in): one of the
/// pages (`/login`, `/select`, `/consent`, with `?req=id`), or the client's redirect URI with a
/// code. An error is for the client, sent to its redirect URI; a finished request is forgotten.
pub async fn advance(
    ctx: &Provider,
    id: &str,
    req: &AuthRequest,
    session: Option<&SessionRow>,
    created: i64,
    now: i64,
) -> Result<String, OAuthError> {
    let (actable, consent, reach) = match session {
        // A failed lookup is a server error, never "no consent yet".
        Some(s) => lookups(ctx, req, s, now).await?,
        None => (vec![], None, 1),
    };
    let step = authorize::next_step(
        req,
        session,
        created,
        consent.as_deref(),
        actable.len(),
        reach,
        now,
    );
    match step {
        Err(e) => {
            let _ = pending::finish(ctx, id).await;
            Err(e)
        }
        Ok(Step::Login) => Ok(format!("/login?req={id}")),
        Ok(Step::SecondFactor) => Ok(format!("/login/factor?req={id}")),
        Ok(Step::SelectEnterprise) => Ok(format!("/select?req={id}")),
        Ok(Step::Consent) => Ok(format!("/consent?req={id}")),
        Ok(Step::Issue) => {
            let s = session.ok_or_else(OAuthError::server_error)?;
            let acting_for = req.acting_for.as_deref().unwrap_or_default();
            if !acting_for.is_empty() {
                let Some(e) = actable.iter().find(|e| e.id == acting_for) else {
                    return Err(OAuthError::new(
                        ErrorCode::AccessDenied,
                        "the person may not act for that enterprise",
                    ));
                };
                // Letting a portal read an enterprise's licences needs `licences:consent`.
                let consent = crate::identity::enterprises::Permission::LicencesConsent;
                if req.has_scope("licences") && !crate::identity::enterprises::may(e, consent) {
                    let _ = pending::finish(ctx, id).await;
                    return Err(OAuthError::new(
                        ErrorCode::AccessDenied,
                        "the agent may not let a portal read this enterprise's licences",
                    ));
                }
            }
            let _ = pending::finish(ctx, id).await;
            authorize::issue_code(ctx, req, s, now).await
        }
    }
}

/// The enterprises the person may act for (when the request asks for `enterprise`), the consent
/// already given to this client for whom they act, and (when the request asks for a level) the
/// highest level the account can reach.
async fn lookups(
    ctx: &Provider,
    req: &AuthRequest,
    s: &SessionRow,
    now: i64,
) -> Result<(Vec<storage::enterprises::Actable>, Option<String>, u8), StorageError> {
    let actable = if req.has_scope("enterprise") {
        crate::identity::enterprises::actable_by(&ctx.identity, &s.account_id, now).await?
    } else {
        vec![]
    };
    let acting_for = req.acting_for.clone().unwrap_or_default();
    let consent = consents::consent(ctx, &s.account_id, &req.client_id, &acting_for).await?;
    let reach = if super::assurance::asks(&req.acr_values, req.claims.as_ref()) {
        match crate::identity::accounts::account(&ctx.identity, &s.account_id).await? {
            Some(a) => crate::identity::sessions::reach(&ctx.identity, &a).await?,
            None => 1,
        }
    } else {
        1
    };
    Ok((actable, consent, reach))
}

/// The client of a request, if it can be read (for its name and registered licence types).
pub async fn client(ctx: &Provider, client_id: &str) -> Option<Arc<Client>> {
    clients::get(ctx, client_id).await.ok().flatten()
}

/// The person chose whom to act for (`""`: themself); refused if they may not act for that
/// enterprise. The request is kept with the choice, to be shown the consent screen again.
pub async fn choose_enterprise(
    ctx: &Provider,
    id: &str,
    req: &mut AuthRequest,
    s: &SessionRow,
    choice: &str,
    now: i64,
) -> Result<(), NotActable> {
    if !choice.is_empty() {
        let actable = crate::identity::enterprises::actable_by(&ctx.identity, &s.account_id, now)
            .await
            .unwrap_or_default();
        if !actable.iter().any(|e| e.id == choice) {
            return Err(NotActable);
        }
    }
    req.acting_for = Some(choice.to_owned());
    req.selected = true;
    req.consented = false;
    let _ = pending::update(ctx, id, req).await;
    Ok(())
}

/// The person may not act for the enterprise they chose.
#[derive(Debug, thiserror::Error)]
#[error("the person may not act for that enterprise")]
pub struct NotActable;

/// What the consent screen names: the client, whom the person acts for, and (with `licences`) the
/// codes of the licence types the client is registered to read.
pub struct ConsentScreen {
    pub client_name: String,
    pub acting_for_name: Option<String>,
    pub licence_types: Vec<String>,
}

pub async fn consent_screen(ctx: &Provider, req: &AuthRequest) -> ConsentScreen {
    let client = client(ctx, &req.client_id).await;
    let acting_for_name = match req.acting_for.as_deref() {
        Some(e) if !e.is_empty() => crate::identity::enterprises::enterprise(&ctx.identity, e)
            .await
            .ok()
            .flatten()
            .map(|e| e.name),
        _ => None,
    };
    ConsentScreen {
        client_name: client
            .as_ref()
            .map(|c| c.config.name.clone())
            .unwrap_or_default(),
        acting_for_name,
        licence_types: licence_types(req, client.as_deref()),
    }
}

/// The licence types a portal asking for `licences` may read: what the person consents to.
fn licence_types(req: &AuthRequest, client: Option<&Client>) -> Vec<String> {
    match client {
        Some(c) if req.has_scope("licences") => c.config.licence_types.clone(),
        _ => vec![],
    }
}

/// Why a consent decision did not go on to the code.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The person declined: for the client, at its redirect URI.
    #[error("the person declined")]
    Declined(OAuthError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The person's decision on the consent screen. Allowed, the consent records exactly what the screen
/// named (the scopes and, with `licences`, the client's licence types) and the request goes on;
/// declined, the request is forgotten.
pub async fn decide_consent(
    ctx: &Provider,
    id: &str,
    req: &mut AuthRequest,
    s: &SessionRow,
    allow: bool,
    now: i64,
) -> Result<(), ConsentError> {
    if !allow {
        let _ = pending::finish(ctx, id).await;
        return Err(ConsentError::Declined(OAuthError::new(
            ErrorCode::AccessDenied,
            "the person declined",
        )));
    }
    let acting_for = req.acting_for.clone().unwrap_or_default();
    let client = client(ctx, &req.client_id).await;
    let mut granted = req.scopes.clone();
    granted.extend(
        licence_types(req, client.as_deref())
            .into_iter()
            .map(|c| format!("licence_type:{c}")),
    );
    authorize::give_consent(
        ctx,
        &s.account_id,
        &req.client_id,
        &acting_for,
        &granted,
        now,
    )
    .await?;
    tracing::info!(client_id = %req.client_id, "consent given");
    req.consented = true;
    let _ = pending::update(ctx, id, req).await;
    Ok(())
}
