//! Subjects and claims as a given client sees them: pairwise `sub` per sector by default, the national
//! number only under the `id_number` scope, and the enterprise view (`sub` of the enterprise, `act.sub`
//! of the agent, `org_*` claims) when the person acts for an enterprise.

use serde_json::{json, Map, Value};

use super::clients::{Client, SubjectType};
use crate::identity::accounts;
use crate::oidc::context::Provider;
use crate::storage::accounts::AccountRow;
use crate::storage::enterprises::EnterpriseRow;

/// `local_id` is an account id (`p_…`) or an enterprise id (`e_…`).
pub fn subject(ctx: &Provider, client: &Client, local_id: &str) -> String {
    match client.config.subject_type {
        SubjectType::Public => local_id.to_owned(),
        SubjectType::Pairwise => ctx.keys.data().pairwise_subject(&client.sector(), local_id),
    }
}

/// Claims about the person allowed by `scopes`, for the ID token and userinfo.
pub fn person_claims(ctx: &Provider, a: &AccountRow, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    let has = |s: &str| scopes.contains(&s);
    if has("profile") || has("id_number") {
        c.insert("name".into(), json!(a.name));
    }
    if has("email") {
        if let Some(e) = &a.email {
            c.insert("email".into(), json!(e));
            // True only once the person opened the link sent to this address.
            c.insert(
                "email_verified".into(),
                json!(a.email_verified_at.is_some()),
            );
        }
    }
    if has("phone") {
        if let Some(p) = &a.phone {
            c.insert("phone_number".into(), json!(format!("+86{p}")));
            c.insert(
                "phone_number_verified".into(),
                json!(a.phone_verified_at.is_some()),
            );
        }
    }
    if has("id_number") {
        if let Some(n) = accounts::id_number(&ctx.identity, a) {
            c.insert("id_number".into(), json!(n));
            c.insert("id_type".into(), json!(a.id_kind));
        }
    }
    c
}

/// The enterprise view: `act` carries the agent, `org_*` the enterprise.
pub fn enterprise_claims(
    ctx: &Provider,
    client: &Client,
    e: &EnterpriseRow,
    agent_id: &str,
    role: &str,
    permissions: &[&str],
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert(
        "act".into(),
        json!({ "sub": subject(ctx, client, agent_id) }),
    );
    c.insert("org_uscc".into(), json!(e.uscc));
    c.insert("org_name".into(), json!(e.name));
    c.insert("agent_role".into(), json!(role));
    c.insert("agent_permissions".into(), json!(permissions));
    c
}
