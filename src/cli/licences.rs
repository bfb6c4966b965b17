//! `tongban department` and `licence-type`: who issues, and what.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::shared::{offline_state, print};
use crate::config::Config;
use crate::domain::time::now;

#[derive(Subcommand)]
pub(super) enum DepartmentCmd {
    /// Register a department: issues its licence-signing and status-list certificates.
    Add {
        /// The department's unified social credit code (GB 32100).
        #[arg(long)]
        uscc: String,
        /// Its name in Chinese, as people read it on licences.
        #[arg(long)]
        name_zh: String,
        /// Its name in English.
        #[arg(long)]
        name_en: String,
        /// The `iss` URL its licences carry (https).
        #[arg(long)]
        iss: String,
        /// The OAuth client (client_credentials) its systems authenticate as.
        #[arg(long)]
        client_id: Option<String>,
    },
    /// List the departments and their certificates.
    List,
    /// Issue new certificates (the old ones stay valid until they expire or are revoked, and the
    /// licences they signed keep verifying): for one department, or `--all` of them (e.g. to
    /// replace certificates written before they were strict DER).
    Renew {
        /// The department's unified social credit code.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        uscc: Option<String>,
        /// Every department.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a department certificate by serial; licences it signed earlier stay validly signed.
    RevokeCert {
        /// The certificate's serial number (hex, as `department list` shows it).
        serial: String,
        /// Why, recorded with the revocation and in the audit log (e.g. key_compromise,
        /// superseded, cessation_of_operation).
        #[arg(long, default_value = "key_compromise")]
        reason: String,
    },
}

#[derive(Subcommand)]
pub(super) enum LicenceTypeCmd {
    /// Register a licence type from a JSON definition file (its format: `LicenceTypeDefinition` in
    /// openapi/tongban.yaml, served at /openapi.yaml; a sample:
    /// examples/licence-types/business-licence.json).
    Add {
        /// The JSON definition file.
        file: PathBuf,
    },
    /// List the registered licence types (code and names).
    List,
}

pub(super) async fn department(config: Config, cmd: DepartmentCmd) -> anyhow::Result<()> {
    use crate::licences::departments as d;
    let state = offline_state(config).await?;
    let t = now();
    match cmd {
        DepartmentCmd::Add {
            uscc,
            name_zh,
            name_en,
            iss,
            client_id,
        } => {
            let n = d::NewDepartment {
                uscc: &uscc,
                name_zh: &name_zh,
                name_en: &name_en,
                iss: &iss,
                client_id: client_id.as_deref(),
            };
            let dept = d::register(&state.licences, n, crate::audit::OPERATOR_CLI, t)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(
                json!({ "id": dept.id, "uscc": dept.uscc, "iss": dept.iss, "status_list": crate::licences::revocation::status_uri(&state.licences, &dept.id) }),
            );
        }
        DepartmentCmd::List => {
            let list: Vec<_> = crate::storage::departments::list(&state.db)
                .await?
                .into_iter()
                .map(|x| json!({ "id": x.id, "uscc": x.uscc, "name_zh": x.name_zh, "name_en": x.name_en, "iss": x.iss, "client_id": x.client_id }))
                .collect();
            print(json!(list));
        }
        DepartmentCmd::Renew { uscc, all } => {
            let depts = match uscc {
                Some(uscc) if !all => vec![crate::storage::departments::by_uscc(&state.db, &uscc)
                    .await?
                    .context("no such department")?],
                _ => crate::storage::departments::list(&state.db).await?,
            };
            let mut renewed = Vec::with_capacity(depts.len());
            for dept in &depts {
                let serials = d::renew(&state.licences, dept, crate::audit::OPERATOR_CLI, t)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", dept.uscc))?;
                renewed.push(json!({ "uscc": dept.uscc, "renewed": serials }));
            }
            if all {
                print(json!({ "departments": renewed }));
            } else {
                // One department: the output `renew USCC` always had.
                print(json!({ "renewed": renewed.first().map(|r| r["renewed"].clone()) }));
            }
        }
        DepartmentCmd::RevokeCert { serial, reason } => {
            anyhow::ensure!(
                d::revoke_cert(
                    &state.licences,
                    &serial,
                    &reason,
                    crate::audit::OPERATOR_CLI,
                    t
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
                "no such live certificate"
            );
            print(json!({ "revoked": serial }));
        }
    }
    Ok(())
}

pub(super) async fn licence_type(config: Config, cmd: LicenceTypeCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    match cmd {
        LicenceTypeCmd::Add { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let t = crate::licences::catalogue::LicenceType::parse(&text)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::licences::registry::register(
                &state.licences,
                &t,
                crate::audit::OPERATOR_CLI,
                now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "code": t.code, "name_zh": t.name_zh, "name_en": t.name_en }));
        }
        LicenceTypeCmd::List => {
            let list: Vec<_> = crate::storage::licence_types::list(&state.db)
                .await?
                .into_iter()
                .map(|(code, _)| code)
                .collect();
            print(json!(list));
        }
    }
    Ok(())
}
