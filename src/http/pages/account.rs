//! The account page: profile, password, active sessions, authorised portals, enterprises one may act
//! for and, for a legal representative, the agents (grant, revoke); log out everywhere.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::login::current_session;
use super::{cookie_header, format_time, redirect, Ui};
use crate::domain::time::now;
use crate::http::extract::{ClientAddr, OAuthParams};
use crate::http::AppState;
use crate::oidc::account::{self, AccountAction, Refused};
use crate::storage::{accounts::AccountRow, sessions::SessionRow};

async fn render(
    state: &AppState,
    ui: &Ui,
    s: &SessionRow,
    a: &AccountRow,
    message: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = now();
    let o = account::overview(&state.provider, a, now).await;
    // Auditors find the supervision figures from their account page.
    let auditor = crate::audit::supervision::is_auditor(&state.audit, &a.id)
        .await
        .unwrap_or(false);
    let sessions: Vec<Value> = o.sessions
        .iter()
        .map(|x| json!({ "id": x.id, "created": format_time(x.created_at), "last_seen": format_time(x.last_seen), "current": x.id == s.id }))
        .collect();
    let consents: Vec<Value> = o.consents
        .iter()
        .map(|n| {
            let c = &n.consent;
            let scopes: Vec<&str> = c.scopes.split(' ').collect();
            json!({ "client_id": c.client_id, "client_name": n.client_name, "scopes": scopes, "acting_for_name": n.acting_for_name, "granted": format_time(c.granted_at) })
        })
        .collect();
    let actable: Vec<Value> = o.actable
        .iter()
        .map(|e| json!({ "name": e.name, "uscc": e.uscc, "role": e.role, "permissions": crate::identity::enterprises::permissions(e), "expires": e.expires_at.map(format_time) }))
        .collect();
    let represented: Vec<Value> = o.represented
        .iter()
        .map(|(e, agents)| {
            let agents: Vec<Value> = agents
                .iter()
                .map(|g| json!({ "id": g.id, "agent_name": g.agent_name, "role": g.role, "permissions": g.permissions.split(' ').collect::<Vec<_>>(), "expires": format_time(g.expires_at), "active": g.revoked_at.is_none() && g.expires_at > now }))
                .collect();
            json!({ "id": e.id, "name": e.name, "uscc": e.uscc, "agents": agents })
        })
        .collect();
    let ctx = json!({
        "account": { "name": a.name, "email": a.email, "phone": a.phone, "email_verified": a.email_verified_at.is_some(), "phone_verified": a.phone_verified_at.is_some(), "id_kind": a.id_kind, "id_number_masked": o.id_number_masked, "loa": a.loa, "proven": a.proven_at.is_some() },
        "notices": o.notices.iter().map(|n| json!({ "kind": n.kind, "when": format_time(n.created_at) })).collect::<Vec<_>>(),
        "factors": o.factors.iter().map(|f| json!({ "id": f.id, "kind": f.kind, "added": format_time(f.created_at), "last_used": f.last_used_at.map(format_time) })).collect::<Vec<_>>(),
        "recovery_codes_left": o.recovery_codes_left,
        "passkeys": state.identity.passkeys.is_some(),
        "auditor": auditor,
        "has_passkey": state.identity.passkeys.is_some() && o.factors.iter().any(|f| f.kind == "passkey"),
        "session_acr": s.acr,
        "message": message, "error": error, "sessions": sessions, "consents": consents, "actable": actable, "represented": represented,
    });
    ui.render(state, "account.html", status, ctx)
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let Some((s, a)) = current_session(&state, &headers, now()).await else {
        return redirect("/login");
    };
    let message = p
        .one("message")
        .ok()
        .flatten()
        .filter(|m| MESSAGES.contains(m));
    render(&state, &ui, &s, &a, message, None, StatusCode::OK).await
}

const MESSAGES: [&str; 9] = [
    "identity_proven",
    "factor_added",
    "factor_removed",
    "password_changed",
    "session_ended",
    "consent_withdrawn",
    "agent_granted",
    "agent_revoked",
    "logged_out_everywhere",
];

/// One account action: checks session and CSRF, runs `act`, then redirects with a message (PRG) or
/// re-renders with the error.
pub async fn action(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ClientAddr(addr): ClientAddr,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let now = now();
    let Some((s, a)) = current_session(&state, &headers, now).await else {
        return redirect("/login");
    };
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let Some(action) = parse_action(uri.path(), &p, &addr) else {
        return render(
            &state,
            &ui,
            &s,
            &a,
            None,
            Some("not_found"),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let result = account::act(&state.provider, &a, action, now).await;
    match result {
        Ok(message) => {
            // Ending one's own current session from the list signs this browser out too.
            let still_in = current_session(&state, &headers, now).await.is_some();
            if !still_in {
                let mut resp = redirect("/login");
                resp.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(&state, super::session_cookie(&state), "", Some(0)),
                );
                return resp;
            }
            redirect(&format!("/account?message={message}"))
        }
        Err(Refused::Shown(key)) => {
            render(
                &state,
                &ui,
                &s,
                &a,
                None,
                Some(key),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Refused::Failed) => {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            render(&state, &ui, &s, &a, None, Some("server_error"), status).await
        }
    }
}

/// The action a form posted to `path` asks for.
fn parse_action(
    path: &str,
    p: &crate::oidc::params::Params,
    address: &str,
) -> Option<AccountAction> {
    let get = |k: &str| p.one(k).ok().flatten().unwrap_or("").to_owned();
    Some(match path {
        "/account/password" => AccountAction::ChangePassword {
            current: get("current_password"),
            new: get("new_password"),
            confirm: get("new_password_confirm"),
        },
        "/account/sessions/end" => AccountAction::EndSession {
            session_id: get("session_id"),
        },
        "/account/consents/withdraw" => AccountAction::WithdrawConsent {
            client_id: get("client_id"),
        },
        "/account/agents/grant" => AccountAction::GrantAgent {
            enterprise_id: get("enterprise_id"),
            agent: get("agent"),
            role: get("role"),
            permissions: p.all("permission").into_iter().map(str::to_owned).collect(),
            days: get("days").parse::<i64>().unwrap_or(0),
        },
        "/account/agents/revoke" => AccountAction::RevokeAgent {
            grant_id: get("grant_id"),
        },
        "/account/logout-all" => AccountAction::LogoutEverywhere,
        "/account/email/send" => AccountAction::SendEmailLink,
        "/account/phone/send" => AccountAction::SendPhoneCode,
        "/account/phone/verify" => AccountAction::VerifyPhone { code: get("code") },
        "/account/activate" => AccountAction::Activate {
            code: get("code"),
            address: address.to_owned(),
        },
        "/account/factors/remove" => AccountAction::RemoveFactor {
            factor_id: get("factor_id"),
            code: get("code"),
            ceremony: get("ceremony"),
            credential: get("credential"),
            address: address.to_owned(),
        },
        _ => return None,
    })
}
