//! `tongban client`, `account` and `enterprise`: who may sign in, and to which portals.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::shared::{offline_state, parse_list, print};
use crate::config::Config;
use crate::crypto::keys::SigningAlg;
use crate::domain::time::now;
use crate::identity::{accounts, enterprises, proofing};
use crate::oidc::clients::{self, AuthMethod, ClientConfig, GrantType, SubjectType};

#[derive(Subcommand)]
pub(super) enum ClientCmd {
    /// Register a client: a portal (authorization code) or a department system
    /// (client_credentials); prints its id and, for a confidential client, its secret (shown once).
    Add(Box<ClientAdd>),
    /// List the registered clients (id and name).
    List,
    /// Show one client's registration.
    Show {
        /// The client's id.
        client_id: String,
    },
    /// Remove a client: its grants end and it can no longer get tokens.
    Remove {
        /// The client's id.
        client_id: String,
    },
}

#[derive(Args)]
pub(super) struct ClientAdd {
    /// The name people see on the consent page, e.g. "住房公积金 Housing fund".
    #[arg(long)]
    pub(super) name: String,
    /// Choose the client id (default: generated).
    #[arg(long)]
    pub(super) id: Option<String>,
    /// A redirect URI, matched exactly (repeat for several).
    #[arg(long = "redirect-uri")]
    pub(super) redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to, matched exactly (repeat).
    #[arg(long = "post-logout-redirect-uri")]
    pub(super) post_logout_redirect_uris: Vec<String>,
    /// The client's back-channel logout endpoint (OpenID Connect Back-Channel Logout).
    #[arg(long)]
    pub(super) backchannel_logout_uri: Option<String>,
    /// authorization_code, refresh_token, client_credentials (repeat).
    #[arg(long = "grant-type", default_values = ["authorization_code", "refresh_token"])]
    pub(super) grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none.
    #[arg(long, default_value = "client_secret_basic")]
    pub(super) auth_method: String,
    /// A scope the client may ask for (repeat): openid, profile, email, phone, id_number,
    /// enterprise, licences, offline_access; department systems: licences:issue, licences:revoke,
    /// licences:query, licences:verify, admin.
    #[arg(long = "scope", default_values = ["openid", "profile"])]
    pub(super) scopes: Vec<String>,
    /// pairwise (default) or public.
    #[arg(long, default_value = "pairwise")]
    pub(super) subject_type: String,
    /// The sector identifier (a host) for pairwise subjects shared by several clients of one
    /// organisation; default: the redirect URIs' host.
    #[arg(long)]
    pub(super) sector: Option<String>,
    /// ES256 or RS256.
    #[arg(long, default_value = "RS256")]
    pub(super) id_token_alg: String,
    /// A JWK Set file with the client's public keys (private_key_jwt).
    #[arg(long)]
    pub(super) jwks: Option<PathBuf>,
    /// A licence type (code) the portal may read with the holder's consent (repeat).
    #[arg(long = "licence-type")]
    pub(super) licence_types: Vec<String>,
}

#[derive(Subcommand)]
pub(super) enum AccountCmd {
    /// Register a citizen in person. The password is read from standard input.
    Add {
        /// The person's name, as on the identity document.
        #[arg(long)]
        name: String,
        /// The identity document: resident (居民身份证), passport, hk_macao_permit or
        /// taiwan_permit.
        #[arg(long, default_value = "resident")]
        id_kind: String,
        /// The document's number (a resident ID number is checked against GB 11643).
        #[arg(long)]
        id_number: String,
        /// An email address (sign-in name; verified later by a link).
        #[arg(long, default_value = "")]
        email: String,
        /// A mobile number (sign-in name; verified later by an SMS code).
        #[arg(long, default_value = "")]
        phone: String,
        /// The person's identity document was checked at the counter: the identity is proven at
        /// once (a proofing event by the operator), and detached from accounts that only claimed it.
        #[arg(long)]
        verified: bool,
        /// With --verified: the evidence checked (the document, its issuing office...).
        #[arg(long, default_value = "identity document checked at the counter")]
        evidence: String,
    },
    /// Prove an account's claimed identity on the document checked in person (the operator at a
    /// counter); the same number is detached from every account that only claimed it.
    Prove {
        /// The account: email, phone or (if proven) ID number.
        identifier: String,
        /// The document checked (resident, passport...).
        #[arg(long, default_value = "resident")]
        id_kind: String,
        /// The document's number.
        #[arg(long)]
        id_number: String,
        /// The name on the document.
        #[arg(long)]
        name: String,
        /// The evidence checked (the document, its issuing office...).
        #[arg(long)]
        evidence: String,
    },
    /// Give an account the counter role of a department: it may prove identities in person.
    Counter {
        /// The staff member's account: email, phone or ID number.
        identifier: String,
        /// The department's id.
        #[arg(long)]
        department: String,
    },
    /// Issue an activation code for an identity number, to be sent by letter to the registered
    /// address; prints the code (shown once: only its hash is kept).
    ActivationCode {
        /// The department sending the letter.
        #[arg(long)]
        department: String,
        /// The identity document the code is bound to (resident, passport...).
        #[arg(long, default_value = "resident")]
        id_kind: String,
        /// Its number: the code proves only this identity.
        #[arg(long)]
        id_number: String,
        /// Days the code stays valid (1 to 90).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// List an account's proofing events and its second factors (kind, added, last used; never a
    /// secret), with how many recovery codes are left.
    Proofing {
        /// The account: email, phone or ID number.
        identifier: String,
    },
    /// Show an account by ID number, email or phone.
    Show {
        /// The account: email, phone or ID number.
        identifier: String,
    },
    /// Disable an account and end its sessions.
    Disable {
        /// The account: email, phone or ID number.
        identifier: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// The account: email, phone or ID number.
        identifier: String,
    },
    /// Give an account the auditor role: it may see the supervision page.
    Auditor {
        /// The account: email, phone or ID number.
        identifier: String,
    },
}

#[derive(Subcommand)]
pub(super) enum EnterpriseCmd {
    /// Register an enterprise; the legal representative is given by ID number, email or phone.
    Add {
        /// The unified social credit code (GB 32100, 18 characters).
        #[arg(long)]
        uscc: String,
        /// The registered name.
        #[arg(long)]
        name: String,
        /// The legal representative's account: ID number, email or phone.
        #[arg(long)]
        legal_representative: String,
    },
    /// Change an enterprise's legal representative (a proven identity, by ID number, email or
    /// phone): the old one's portal sign-ins for the enterprise end; its agents are listed for review.
    SetRepresentative {
        /// The enterprise's unified social credit code.
        #[arg(long)]
        uscc: String,
        /// The new legal representative's account: ID number, email or phone.
        #[arg(long)]
        legal_representative: String,
    },
}

pub(super) async fn client(config: Config, cmd: ClientCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    match cmd {
        ClientCmd::Add(a) => {
            let jwks = match &a.jwks {
                Some(p) => Some(
                    serde_json::from_slice(&std::fs::read(p)?)
                        .context("the JWK Set file is not JSON")?,
                ),
                None => None,
            };
            let cfg = ClientConfig {
                name: a.name,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                backchannel_logout_uri: a.backchannel_logout_uri,
                grant_types: parse_list(&a.grant_types, GrantType::parse, "grant type")?,
                auth_method: AuthMethod::parse(&a.auth_method).context("unknown auth method")?,
                scopes: a.scopes,
                subject_type: match a.subject_type.as_str() {
                    "public" => SubjectType::Public,
                    "pairwise" => SubjectType::Pairwise,
                    s => anyhow::bail!("unknown subject type {s:?}"),
                },
                sector: a.sector,
                id_token_alg: SigningAlg::parse(&a.id_token_alg)
                    .context("id token algorithm must be ES256 or RS256")?,
                jwks,
                licence_types: a.licence_types,
            };
            let (c, secret) = clients::register(&state.db, a.id, cfg, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "client_id": c.id, "client_secret": secret, "config": c.config }));
        }
        ClientCmd::List => {
            let list: Vec<_> = clients::list(&state.db)
                .await?
                .into_iter()
                .map(|c| json!({ "client_id": c.id, "name": c.config.name }))
                .collect();
            print(json!(list));
        }
        ClientCmd::Show { client_id } => {
            let c = clients::get(&state.provider, &client_id)
                .await?
                .context("no such client")?;
            print(json!({ "client_id": c.id, "config": c.config }));
        }
        ClientCmd::Remove { client_id } => {
            anyhow::ensure!(
                clients::remove(&state.provider, &client_id, now()).await?,
                "no such client"
            );
            print(json!({ "removed": client_id }));
        }
    }
    Ok(())
}

pub(super) async fn account(config: Config, cmd: AccountCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    match cmd {
        AccountCmd::Add {
            name,
            id_kind,
            id_number,
            email,
            phone,
            verified,
            evidence,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let reg = accounts::Registration {
                name,
                id_kind,
                id_number,
                email,
                phone,
                password: password.trim_end_matches(['\r', '\n']).to_owned(),
            };
            let proof = proofing::Proof {
                method: proofing::Method::CounterRegistration,
                actor: "operator:cli".into(),
                department_id: None,
                evidence: &evidence,
            };
            let id = if verified {
                proofing::register_at_counter(&state.identity, &reg, &proof, now()).await
            } else {
                accounts::register(&state.identity, &reg, now()).await
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "id": id, "proven": verified }));
        }
        AccountCmd::Prove {
            identifier,
            id_kind,
            id_number,
            name,
            evidence,
        } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let proof = proofing::Proof {
                method: proofing::Method::Counter,
                actor: "operator:cli".into(),
                department_id: None,
                evidence: &evidence,
            };
            let p = proofing::prove(
                &state.identity,
                &a.id,
                &id_kind,
                &id_number,
                &name,
                &proof,
                now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "id": a.id, "proven": true, "detached_from": p.detached.len() }));
        }
        AccountCmd::Counter {
            identifier,
            department,
        } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            crate::licences::departments::department(&state.licences, &department)
                .await?
                .context("no such department")?;
            proofing::grant_role(
                &state.identity,
                &a.id,
                &department,
                proofing::COUNTER,
                now(),
            )
            .await?;
            print(json!({ "id": a.id, "department": department, "role": proofing::COUNTER }));
        }
        AccountCmd::ActivationCode {
            department,
            id_kind,
            id_number,
            days,
        } => {
            crate::licences::departments::department(&state.licences, &department)
                .await?
                .context("no such department")?;
            let code = proofing::issue_code(
                &state.identity,
                &department,
                &id_kind,
                &id_number,
                days,
                now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "code": code, "valid_days": days.clamp(1, 90) }));
        }
        AccountCmd::Proofing { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let events = proofing::events(&state.identity, &a.id).await?;
            let factors = crate::identity::factors::list(&state.identity, &a.id).await?;
            let left =
                crate::identity::factors::recovery_codes_left(&state.identity, &a.id).await?;
            print(json!({
                "id": a.id, "proven": proofing::is_proven(&a), "events": events,
                "factors": factors, "recovery_codes_left": left,
            }));
        }
        AccountCmd::Show { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let masked = accounts::id_number(&state.identity, &a).map(|n| accounts::mask(&n));
            print(
                json!({ "id": a.id, "name": a.name, "id_kind": a.id_kind, "id_number": masked, "email": a.email, "phone": a.phone, "loa": a.loa, "proven": proofing::is_proven(&a), "disabled": a.disabled_at.is_some() }),
            );
        }
        AccountCmd::Auditor { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            crate::audit::supervision::grant_auditor(
                &state.audit,
                &a.id,
                crate::audit::OPERATOR_CLI,
                now(),
            )
            .await?;
            print(json!({ "auditor": a.id }));
        }
        AccountCmd::Disable { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let sessions =
                crate::oidc::logout::disable_account(&state.provider, &a.id, now()).await?;
            print(json!({ "disabled": a.id, "sessions_ended": sessions }));
        }
        AccountCmd::Enable { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let enabled = accounts::enable(&state.identity, &a.id, now()).await?;
            anyhow::ensure!(enabled, "the account is not disabled");
            print(json!({ "enabled": a.id }));
        }
    }
    Ok(())
}

pub(super) async fn enterprise(config: Config, cmd: EnterpriseCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    match cmd {
        EnterpriseCmd::Add {
            uscc,
            name,
            legal_representative,
        } => {
            let rep = accounts::find_by_identifier(&state.identity, &legal_representative)
                .await?
                .context("no such legal representative")?;
            let e = enterprises::create(&state.identity, &uscc, &name, &rep.id, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "id": e.id, "uscc": e.uscc, "name": e.name }));
        }
        EnterpriseCmd::SetRepresentative {
            uscc,
            legal_representative,
        } => {
            let (e, rep) =
                enterprises::representative_change(&state.identity, &uscc, &legal_representative)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let agents = crate::oidc::logout::change_representative(
                &state.provider,
                &e.id,
                &e.legal_rep_id,
                &rep.id,
                now(),
            )
            .await?;
            let review: Vec<_> = agents
                .iter()
                .map(|g| json!({ "grant": g.id, "agent": g.agent_name, "role": g.role, "permissions": g.permissions, "expires_at": g.expires_at }))
                .collect();
            print(
                json!({ "id": e.id, "legal_representative": rep.id, "agents_to_review": review }),
            );
        }
    }
    Ok(())
}
