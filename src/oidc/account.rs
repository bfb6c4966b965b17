//! What a person does on their account page: change the password, end a session or all of them,
//! withdraw a consent, grant or revoke an enterprise agent. Each action answers with the message key
//! the page shows, or the key of why it was refused.

use super::context::Provider;
use super::logout;
use crate::identity::accounts::{self, AccountError};
use crate::identity::enterprises::{self, EnterpriseError};
use crate::identity::sessions;
use crate::storage::accounts::AccountRow;

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
        days: i64,
    },
    RevokeAgent {
        grant_id: String,
    },
    /// Every session, this browser's included: each portal is told (back-channel).
    LogoutEverywhere,
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
                Err(AccountError::Invalid(k)) => Err(Refused::Shown(k)),
                Err(e) => Err(failed("password change", &e)),
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
            days,
        } => match enterprises::grant_agent(
            &ctx.identity,
            &a.id,
            &enterprise_id,
            &agent,
            &role,
            days,
            now,
        )
        .await
        {
            Ok(_) => Ok("agent_granted"),
            Err(EnterpriseError::Invalid(k)) => Err(Refused::Shown(k)),
            Err(e) => Err(failed("agent grant", &e)),
        },
        AccountAction::RevokeAgent { grant_id } => {
            match enterprises::revocable_grant(&ctx.identity, &a.id, &grant_id).await {
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
                Err(EnterpriseError::Invalid(k)) => Err(Refused::Shown(k)),
                Err(e) => Err(failed("agent revocation", &e)),
            }
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
async fn sessions_of(ctx: &Provider, a: &AccountRow, now: i64) -> Vec<String> {
    sessions::active(&ctx.identity, &a.id, now)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|x| x.id)
        .collect()
}
