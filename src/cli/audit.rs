//! `tongban audit` and `verify`: checking the logs and a licence, from outside the running service.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::shared::{offline_state, print};
use crate::config::Config;
use crate::domain::time::now;
use crate::http::AppState;

#[derive(Subcommand)]
pub(super) enum AuditCmd {
    /// Walk the audit chain end to end; name the first event that does not match.
    Verify,
    /// Check the transparency log against a checkpoint saved earlier (append-only).
    VerifyLog {
        /// A signed checkpoint note, as served at /api/v1/log/checkpoint.
        checkpoint: PathBuf,
    },
    /// Print the newest signed checkpoint (save it to check the log against it later).
    Checkpoint,
}

/// `YYYY-MM-DD` (UTC midnight) or Unix seconds.
pub(super) fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(t) = s.parse::<i64>() {
        return Ok(t);
    }
    let parts: Vec<i64> = s
        .split('-')
        .map(|p| p.parse::<i64>())
        .collect::<Result<_, _>>()
        .context("--at takes Unix seconds or YYYY-MM-DD")?;
    let [y, m, d] = parts[..] else {
        anyhow::bail!("--at takes Unix seconds or YYYY-MM-DD")
    };
    anyhow::ensure!(
        (1..=12).contains(&m) && (1..=31).contains(&d),
        "--at: no such date"
    );
    Ok(crate::domain::time::from_civil(y, m, d))
}

/// What `tongban verify` may consult beyond the licence and the root.
pub(super) struct Evidence<'a> {
    pub(super) receipt: Option<&'a std::path::Path>,
    pub(super) log_key: Option<&'a str>,
    pub(super) state: Option<&'a AppState>,
}

pub(super) async fn audit(config: Config, cmd: AuditCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    let (report, ok) = match cmd {
        AuditCmd::Verify => crate::audit::commands::verify_chain(&state.audit, now()).await?,
        AuditCmd::VerifyLog { checkpoint } => {
            let note = std::fs::read_to_string(&checkpoint)
                .with_context(|| format!("reading {}", checkpoint.display()))?;
            crate::audit::commands::verify_log(&state.audit, &note, now()).await?
        }
        AuditCmd::Checkpoint => {
            crate::audit::rounds::seal_now(&state.audit, now()).await?;
            let (_, note) = crate::audit::licence_log::latest(&state.audit)
                .await?
                .context("the log is empty: no checkpoint yet")?;
            print!("{note}");
            return Ok(());
        }
    };
    print(report);
    anyhow::ensure!(ok, "the log does not verify; see the report above");
    Ok(())
}

pub(super) async fn verify_licence(
    file: &std::path::Path,
    root: &std::path::Path,
    at: Option<&str>,
    evidence: Evidence<'_>,
) -> anyhow::Result<()> {
    let licence =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let pem = std::fs::read(root).with_context(|| format!("reading {}", root.display()))?;
    let (_, root_pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| anyhow::anyhow!("the root is not a PEM certificate: {e}"))?;
    let at = match at {
        Some(a) => parse_time(a)?,
        None => now(),
    };
    let licence = licence.trim();
    let facts = match evidence.state {
        Some(state) => crate::licences::revocation::facts(&state.licences, licence)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        None => None,
    };
    let mut report =
        crate::licences::verify::verify(licence, &root_pem.contents, at, facts.as_deref());
    if let (Some(path), Some(vkey)) = (evidence.receipt, evidence.log_key) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let receipt: serde_json::Value =
            serde_json::from_str(&text).context("the receipt is not JSON")?;
        crate::licences::verify::check_receipt(&mut report, licence, &receipt, vkey);
    }
    print(serde_json::to_value(&report)?);
    anyhow::ensure!(
        report.verdict == crate::licences::verify::Verdict::Valid,
        "{}",
        report.verdict.describe()
    );
    Ok(())
}
