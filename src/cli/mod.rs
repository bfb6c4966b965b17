//! The `tongban` command line: `serve`, `demo`, `init`, `client`, `account`, `enterprise`, `keys`, ….
//! Administrative commands work directly on the database and key directory named by the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::domain::time::now;
use crate::startup::{self, Server};

mod audit;
mod identity;
mod licences;
mod shared;

use audit::*;
use identity::*;
use licences::*;
use shared::*;

#[derive(Parser)]
#[command(
    name = "tongban",
    version,
    about = "Unified identity and electronic licence service"
)]
struct Cli {
    /// TOML configuration file; `TONGBAN_*` environment variables override it.
    #[arg(long, global = true, env = "TONGBAN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (SQLite under ./data and keys under ./keys by default, created on first start).
    Serve,
    /// Try it: the service with a seeded world and two sample portals (housing fund, tax), in a
    /// directory of its own that is created afresh on every start. The configuration file and
    /// `TONGBAN_*` service settings are not used (`TONGBAN_LOG` is): the demo runs on the defaults,
    /// on 127.0.0.1.
    Demo {
        /// The provider's port on 127.0.0.1; the portals take the next two.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The demo's database and keys (emptied and re-created on every start).
        #[arg(long, default_value = "demo-data")]
        dir: PathBuf,
    },
    /// Create the database and keys, then exit.
    Init,
    /// Register and inspect OAuth clients (portals and department systems).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Citizen accounts, for service-counter staff and scripted set-ups.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Enterprises and their legal representatives.
    #[command(subcommand)]
    Enterprise(EnterpriseCmd),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Departments that issue and query licences, and their certificates.
    #[command(subcommand)]
    Department(DepartmentCmd),
    /// Verify a licence offline, from a file and the published root certificate.
    Verify {
        /// A file holding the licence (SD-JWT VC, with any of its disclosures).
        file: PathBuf,
        /// The root certificate (PEM), as published at /pki/root.pem.
        #[arg(long)]
        root: PathBuf,
        /// The time the question is about: Unix seconds or YYYY-MM-DD (UTC); default now.
        #[arg(long)]
        at: Option<String>,
        /// The inclusion receipt issuance returned (JSON), checked against the log key offline.
        #[arg(long, requires = "log_key")]
        receipt: Option<PathBuf>,
        /// The transparency log's verifier key (`name+hash+key`), as served at /api/v1/log/key.
        #[arg(long)]
        log_key: Option<String>,
        /// Also consult the repository's database (from the configuration): status history,
        /// certificate revocation, and whether the issuance is in the transparency log.
        #[arg(long)]
        online: bool,
    },
    /// The audit log and the transparency log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The licence-type catalogue.
    #[command(subcommand, name = "licence-type")]
    LicenceType(LicenceTypeCmd),
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Promote the next keys, retire the active ones, publish new next keys.
    Rotate,
    /// List the signing keys (kid, algorithm, state) without their secrets.
    List,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if config.sched_batch {
        rt.on_thread_start(crate::sched::batch_this_thread);
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TONGBAN_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("TONGBAN_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Colour only for a person at a terminal: a file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`: what `init` prints ends up in
/// container logs.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let stop = startup::shutdown_signal();
            let server = Server::bind(config).await?;
            let scheme = if server.tls() { "https" } else { "http" };
            tracing::info!(address = %server.addr, issuer = %server.state.issuer, "tongban is listening");
            println!(
                "tongban is listening on {scheme}://{} (issuer {})",
                server.addr, server.state.issuer
            );
            server.run(stop).await
        }
        Command::Demo { port, dir } => {
            let stop = startup::shutdown_signal();
            let demo = crate::demo::start(crate::demo::DemoOptions { port, dir }).await?;
            println!("{}", demo.instructions());
            demo.run_until(stop).await
        }
        Command::Init => {
            let (_, keys, _) = startup::open(&config, startup::Opening::MayCreate).await?;
            // The transparency log's key too, so a node can mount the key directory read-only.
            let log_key = crate::audit::licence_log::load_key(
                &config.key_dir,
                &crate::audit::licence_log::origin(&offline_issuer(&config)),
            )?;
            print(json!({
                "database": redact_password(&config.database_url),
                "keys": keys.entries()?,
                "log_verifier_key": log_key.verifier_key(),
            }));
            Ok(())
        }
        Command::Client(cmd) => client(config, cmd).await,
        Command::Account(cmd) => account(config, cmd).await,
        Command::Enterprise(cmd) => enterprise(config, cmd).await,
        Command::Department(cmd) => department(config, cmd).await,
        Command::Verify {
            file,
            root,
            at,
            receipt,
            log_key,
            online,
        } => {
            let state = match online {
                true => Some(offline_state(config).await?),
                false => None,
            };
            let evidence = Evidence {
                receipt: receipt.as_deref(),
                log_key: log_key.as_deref(),
                state: state.as_ref(),
            };
            verify_licence(&file, &root, at.as_deref(), evidence).await
        }
        Command::Audit(cmd) => audit(config, cmd).await,
        Command::LicenceType(cmd) => licence_type(config, cmd).await,
        Command::Keys(KeysCmd::Rotate) => {
            let (db, keys, _) = startup::open(&config, startup::Opening::Existing).await?;
            let rotated = keys.rotate(now(), config.max_token_ttl())?;
            let mut tx = db.begin().await?;
            crate::audit::record(
                &mut tx,
                now(),
                crate::audit::OPERATOR_CLI,
                crate::audit::Action::KeysRotated,
                "keys:signing",
                json!({ "keys": rotated }),
            )
            .await?;
            tx.commit().await?;
            // Running nodes re-read the key directory now (else within 2 s, by its mtime).
            crate::storage::notify::send(&db, crate::storage::notify::KEYS).await?;
            print(json!({ "keys": rotated }));
            Ok(())
        }
        Command::Keys(KeysCmd::List) => {
            let (_, keys, _) = startup::open(&config, startup::Opening::Existing).await?;
            print(json!({ "keys": keys.entries()? }));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_never_prints_the_database_password() {
        assert_eq!(
            super::redact_password("postgres://tongban:s3cret@db:5432/tongban"),
            "postgres://tongban:***@db:5432/tongban"
        );
        assert_eq!(
            super::redact_password("sqlite://data/tongban.db?mode=rwc"),
            "sqlite://data/tongban.db?mode=rwc"
        );
    }

    /// Every subcommand and every flag says what it is for (`--help` is the operator's manual).
    #[test]
    fn every_command_and_flag_has_a_help_text() {
        use clap::CommandFactory;
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if ["help", "version"].contains(&id) || a.is_hide_set() {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} <{id}>"));
                }
            }
        }
        let mut missing = vec![];
        walk(&super::Cli::command(), "tongban", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
