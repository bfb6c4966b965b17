//! What a person does on their account page: change the password, end a session or all of them,
//! withdraw a consent, grant or revoke an enterprise agent. Each action answers with the message key
//! the page shows, or the key of why it was refused.

use super::context::Provider;
use super::logout;
use crate::identity::accounts;
use crate::identity::contacts;
use crate::identity::enterprises;
use crate::identity::sessions;
use crate::storage::{self, accounts::AccountRow};

/// An action of the account page, parsed from its form.
pub enum AccountAction {
    ChangePassword {
        current: String,
        new: String,
        confirm: String,
    },
    EndSession {
        session_id: String,
    },
    WithdrawConsent {
        client_id: String,
    },
    GrantAgent {
        enterprise_id: String,
        agent: String,
        role: String,
        /// The permissions ticked; an unknown one refuses the grant.
        permissions: Vec<String>,
        days: i64,
    },
    RevokeAgent {
        grant_id: String,
    },
    /// Every session, this browser's included: each portal is told (back-channel).
    LogoutEverywhere,
    /// Prove the claimed identity with the activation code a department sent by letter.
    Activate {
        code: String,
        address: String,
    },
    /// Send a verification link to the account's email address.
    SendEmailLink,
    /// Send a code to the account's phone, and confirm it.
    SendPhoneCode,
    VerifyPhone {
        code: String,
    },
    /// Remove a second factor, with a fresh check of one of them: a code, or a passkey's answer
    /// (`ceremony`, `credential`).
    RemoveFactor {
        factor_id: String,
        code: String,
        ceremony: String,
        credential: String,
        address: String,
    },
}

/// Why an action did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The person's doing, with the message key the page shows.
    Shown(&'static str),
    /// Ours: logged here, shown as `server_error`.
    Failed,
}

/// Carry out `action` for account `a`; the message key to show.
pub async fn act(
    ctx: &Provider,
    a: &AccountRow,
    action: AccountAction,
    now: i64,
) -> Result<&'static str, Refused> {
    match action {
        AccountAction::ChangePassword {
            current,
            new,
            confirm,
        } => {
            if new != confirm {
                return Err(Refused::Shown("password_mismatch"));
            }
            match accounts::change_password(&ctx.identity, a, &current, &new, now).await {
                Ok(()) => Ok("password_changed"),
                Err(e) => Err(e
                    .key()
                    .map_or_else(|| failed("password change", &e), Refused::Shown)),
            }
        }
        AccountAction::EndSession { session_id } => {
            let own = sessions_of(ctx, a, now).await.contains(&session_id);
            if !own {
                return Err(Refused::Shown("invalid_request"));
            }
            logout::end_sessions(ctx, &[session_id], now)
                .await
                .map(|_| "session_ended")
                .map_err(|_| Refused::Failed)
        }
        AccountAction::WithdrawConsent { client_id } => {
            logout::withdraw_consent(ctx, &a.id, &client_id, now)
                .await
                .map(|_| "consent_withdrawn")
                .map_err(|_| Refused::Failed)
        }
        AccountAction::GrantAgent {
            enterprise_id,
            agent,
            role,
            permissions,
            days,
        } => match enterprises::grant_agent(
            &ctx.identity,
            &a.id,
            &enterprise_id,
            &agent,
            &role,
            &match permissions
                .iter()
                .map(|p| enterprises::Permission::parse(p))
                .collect::<Option<Vec<_>>>()
            {
                Some(p) => p,
                None => return Err(Refused::Shown("grant_invalid")),
            },
            days,
            now,
        )
        .await
        {
            Ok(_) => Ok("agent_granted"),
            Err(e) => Err(e
                .key()
                .map_or_else(|| failed("agent grant", &e), Refused::Shown)),
        },
        AccountAction::RevokeAgent { grant_id } => {
            match enterprises::revocable_grant(&ctx.identity, &a.id, &grant_id, now).await {
                Ok(g) => logout::revoke_agent(
                    ctx,
                    &g.id,
                    &g.agent_id,
                    &g.enterprise_id,
                    &crate::audit::account(&a.id),
                    now,
                )
                .await
                .map(|_| "agent_revoked")
                .map_err(|e| failed("agent revocation", &e)),
                Err(e) => Err(e
                    .key()
                    .map_or_else(|| failed("agent revocation", &e), Refused::Shown)),
            }
        }
        AccountAction::Activate { code, address } => {
            match crate::identity::proofing::redeem(&ctx.identity, a, &code, &address, now).await {
                Ok(_) => Ok("identity_proven"),
                Err(e) => Err(e
                    .key()
                    .map_or_else(|| failed("activation", &e), Refused::Shown)),
            }
        }
        AccountAction::RemoveFactor {
            factor_id,
            code,
            ceremony,
            credential,
            address,
        } => {
            match crate::identity::second_factor::remove(
                &ctx.identity,
                &a.id,
                &factor_id,
                crate::identity::factors::Proof::from_form(&code, &ceremony, &credential),
                &address,
                now,
            )
            .await
            {
                Ok(()) => Ok("factor_removed"),
                Err(e) => Err(e
                    .key()
                    .map_or_else(|| failed("factor removal", &e), Refused::Shown)),
            }
        }
        AccountAction::SendEmailLink => contact(
            contacts::send_email_link(&ctx.identity, a, now).await,
            "email_link_sent",
        ),
        AccountAction::SendPhoneCode => contact(
            contacts::send_phone_code(&ctx.identity, a, now).await,
            "phone_code_sent",
        ),
        AccountAction::VerifyPhone { code } => {
            let done = contact(
                contacts::verify_phone(&ctx.identity, a, &code, now).await,
                "phone_verified",
            );
            // Cached userinfo answers say `phone_number_verified: false` (a minute at most).
            ctx.userinfo.invalidate_all();
            done
        }
        AccountAction::LogoutEverywhere => {
            let all = sessions_of(ctx, a, now).await;
            logout::end_sessions(ctx, &all, now)
                .await
                .map(|_| "logged_out_everywhere")
                .map_err(|_| Refused::Failed)
        }
    }
}

/// Ours: logged, then shown as `server_error`.
fn failed(what: &str, e: &dyn std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "{what} failed");
    Refused::Failed
}

/// The ids of the person's sessions that have not ended (none if they cannot be read).
fn contact(
    r: Result<(), contacts::ContactError>,
    done: &'static str,
) -> Result<&'static str, Refused> {
    r.map(|()| done).map_err(|e| {
        e.key()
            .map_or_else(|| failed("contact verification", &e), Refused::Shown)
    })
}

async fn sessions_of(ctx: &Provider, a: &AccountRow, now: i64) -> Vec<String> {
    sessions::active(&ctx.identity, &a.id, now)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|x| x.id)
        .collect()
}

/// What the account page shows of a person: their sessions, the portals they consented to (by
/// name, and for whom they act there), the enterprises they may act for, and for each enterprise
/// whose agents they manage (as its legal representative, or with `manage`) its agents. A list that cannot be read is shown empty.
pub struct Overview {
    pub sessions: Vec<storage::sessions::SessionRow>,
    pub consents: Vec<NamedConsent>,
    pub actable: Vec<storage::enterprises::Actable>,
    pub represented: Vec<(
        storage::enterprises::EnterpriseRow,
        Vec<storage::enterprises::AgentGrantRow>,
    )>,
    /// The identity number, masked (empty if it cannot be opened, or detached).
    pub id_number_masked: String,
    /// What the account was told (identity proven, detached...), newest first.
    pub notices: Vec<storage::proofing::Notice>,
    /// The confirmed second factors, and how many recovery codes are left.
    pub factors: Vec<crate::identity::factors::Factor>,
    pub recovery_codes_left: i64,
}

/// A consent with the names a person reads.
pub struct NamedConsent {
    pub consent: storage::grants::ConsentRow,
    /// The portal's name (its client id if it cannot be read).
    pub client_name: String,
    pub acting_for_name: Option<String>,
}

pub async fn overview(ctx: &Provider, a: &AccountRow, now: i64) -> Overview {
    let identity = &ctx.identity;
    let sessions = sessions::active(identity, &a.id, now)
        .await
        .unwrap_or_default();
    let mut consents = Vec::new();
    for c in super::consents::consents_of(ctx, &a.id)
        .await
        .unwrap_or_default()
    {
        let client_name = super::clients::get(ctx, &c.client_id)
            .await
            .ok()
            .flatten()
            .map(|x| x.config.name.clone())
            .unwrap_or_else(|| c.client_id.clone());
        let acting_for_name = if c.acting_for.is_empty() {
            None
        } else {
            enterprises::enterprise(identity, &c.acting_for)
                .await
                .ok()
                .flatten()
                .map(|e| e.name)
        };
        consents.push(NamedConsent {
            consent: c,
            client_name,
            acting_for_name,
        });
    }
    let actable = enterprises::actable_by(identity, &a.id, now)
        .await
        .unwrap_or_default();
    // The enterprises whose agents the person manages: as legal representative, or with `manage`.
    let mut represented = Vec::new();
    for m in actable
        .iter()
        .filter(|e| enterprises::may(e, enterprises::Permission::Manage))
    {
        let Ok(Some(e)) = enterprises::enterprise(identity, &m.id).await else {
            continue;
        };
        let agents = enterprises::agents_of(identity, &e.id)
            .await
            .unwrap_or_default();
        represented.push((e, agents));
    }
    let id_number_masked = accounts::id_number(identity, a)
        .map(|n| accounts::mask(&n))
        .unwrap_or_default();
    let notices = crate::identity::proofing::notices(identity, &a.id)
        .await
        .unwrap_or_default();
    let factors = crate::identity::factors::list(identity, &a.id)
        .await
        .unwrap_or_default();
    let recovery_codes_left = crate::identity::factors::recovery_codes_left(identity, &a.id)
        .await
        .unwrap_or_default();
    Overview {
        factors,
        recovery_codes_left,
        notices,
        sessions,
        consents,
        actable,
        represented,
        id_number_masked,
    }
}
