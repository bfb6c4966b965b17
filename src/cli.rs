//! The `tongban` command line: `serve`, `demo`, `init`, `client`, `account`, `enterprise`, `keys`, ….
//! Administrative commands work directly on the database and key directory named by the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::crypto::keys::SigningAlg;
use crate::domain::time::now;
use crate::http::AppState;
use crate::identity::{accounts, enterprises};
use crate::oidc::clients::{self, AuthMethod, ClientConfig, GrantType, SubjectType};
use crate::startup::{self, Server};

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
enum ClientCmd {
    Add(Box<ClientAdd>),
    List,
    Show { client_id: String },
    Remove { client_id: String },
}

#[derive(Args)]
struct ClientAdd {
    #[arg(long)]
    name: String,
    /// Choose the client id (default: generated).
    #[arg(long)]
    id: Option<String>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// authorization_code, refresh_token, client_credentials (repeat).
    #[arg(long = "grant-type", default_values = ["authorization_code", "refresh_token"])]
    grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none.
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    #[arg(long = "scope", default_values = ["openid", "profile"])]
    scopes: Vec<String>,
    /// pairwise (default) or public.
    #[arg(long, default_value = "pairwise")]
    subject_type: String,
    #[arg(long)]
    sector: Option<String>,
    /// ES256 or RS256.
    #[arg(long, default_value = "RS256")]
    id_token_alg: String,
    /// A JWK Set file with the client's public keys (private_key_jwt).
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// A licence type (code) the portal may read with the holder's consent (repeat).
    #[arg(long = "licence-type")]
    licence_types: Vec<String>,
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Register a citizen in person. The password is read from standard input.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "resident")]
        id_kind: String,
        #[arg(long)]
        id_number: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "")]
        phone: String,
        /// The person's identity was verified at the counter (level of assurance 3).
        #[arg(long)]
        verified: bool,
    },
    /// Show an account by ID number, email or phone.
    Show { identifier: String },
    /// Disable an account and end its sessions.
    Disable { identifier: String },
    /// Give an account the auditor role: it may see the supervision page.
    Auditor { identifier: String },
}

#[derive(Subcommand)]
enum EnterpriseCmd {
    /// Register an enterprise; the legal representative is given by ID number, email or phone.
    Add {
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        legal_representative: String,
    },
}

#[derive(Subcommand)]
enum DepartmentCmd {
    /// Register a department: issues its licence-signing and status-list certificates.
    Add {
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        name_zh: String,
        #[arg(long)]
        name_en: String,
        /// The `iss` URL its licences carry (https).
        #[arg(long)]
        iss: String,
        /// The OAuth client (client_credentials) its systems authenticate as.
        #[arg(long)]
        client_id: Option<String>,
    },
    List,
    /// Issue new certificates (the old ones stay valid until they expire or are revoked, and the
    /// licences they signed keep verifying): for one department, or `--all` of them (e.g. to
    /// replace certificates written before they were strict DER).
    Renew {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        uscc: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Revoke a department certificate by serial; licences it signed earlier stay validly signed.
    RevokeCert {
        serial: String,
        #[arg(long, default_value = "key_compromise")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum LicenceTypeCmd {
    /// Register a licence type from a JSON definition file (see README).
    Add {
        file: PathBuf,
    },
    List,
}

#[derive(Subcommand)]
enum AuditCmd {
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

#[derive(Subcommand)]
enum KeysCmd {
    /// Promote the next keys, retire the active ones, publish new next keys.
    Rotate,
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
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

/// The issuer an admin command acts under: the configured one, else the listen address's.
fn offline_issuer(config: &Config) -> String {
    if config.issuer.is_empty() {
        format!("http://{}", config.listen)
    } else {
        config.issuer.trim_end_matches('/').to_owned()
    }
}

async fn offline_state(config: Config) -> anyhow::Result<AppState> {
    let issuer = offline_issuer(&config);
    startup::build_state(config, issuer, startup::Opening::Existing).await
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

fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
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
            let log_key = crate::audit::log::load_key(
                &config.key_dir,
                &crate::audit::log::origin(&offline_issuer(&config)),
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
        Command::Enterprise(EnterpriseCmd::Add {
            uscc,
            name,
            legal_representative,
        }) => {
            let state = offline_state(config).await?;
            let rep = accounts::find_by_identifier(&state.identity, &legal_representative)
                .await?
                .context("no such legal representative")?;
            let e = enterprises::create(&state.identity, &uscc, &name, &rep.id, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "id": e.id, "uscc": e.uscc, "name": e.name }));
            Ok(())
        }
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

fn parse_list<T>(
    items: &[String],
    f: impl Fn(&str) -> Option<T>,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    items
        .iter()
        .map(|i| f(i).with_context(|| format!("unknown {what} {i:?}")))
        .collect()
}

async fn client(config: Config, cmd: ClientCmd) -> anyhow::Result<()> {
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

async fn account(config: Config, cmd: AccountCmd) -> anyhow::Result<()> {
    let state = offline_state(config).await?;
    match cmd {
        AccountCmd::Add {
            name,
            id_kind,
            id_number,
            email,
            phone,
            verified,
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
            let id = accounts::register(&state.identity, &reg, if verified { 3 } else { 1 }, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print(json!({ "id": id }));
        }
        AccountCmd::Show { identifier } => {
            let a = accounts::find_by_identifier(&state.identity, &identifier)
                .await?
                .context("no such account")?;
            let masked = accounts::id_number(&state.identity, &a).map(|n| accounts::mask(&n));
            print(
                json!({ "id": a.id, "name": a.name, "id_kind": a.id_kind, "id_number": masked, "email": a.email, "phone": a.phone, "loa": a.loa, "disabled": a.disabled_at.is_some() }),
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
    }
    Ok(())
}

async fn department(config: Config, cmd: DepartmentCmd) -> anyhow::Result<()> {
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
                json!({ "id": dept.id, "uscc": dept.uscc, "iss": dept.iss, "status_list": crate::licences::status::status_uri(&state.licences, &dept.id) }),
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

async fn licence_type(config: Config, cmd: LicenceTypeCmd) -> anyhow::Result<()> {
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
            let list: Vec<_> = crate::storage::departments::licence_types(&state.db)
                .await?
                .into_iter()
                .map(|(code, _)| code)
                .collect();
            print(json!(list));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD` (UTC midnight) or Unix seconds.
fn parse_time(s: &str) -> anyhow::Result<i64> {
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
struct Evidence<'a> {
    receipt: Option<&'a std::path::Path>,
    log_key: Option<&'a str>,
    state: Option<&'a AppState>,
}

async fn audit(config: Config, cmd: AuditCmd) -> anyhow::Result<()> {
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
            let (_, note) = crate::audit::log::latest(&state.audit)
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

async fn verify_licence(
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
        Some(state) => crate::licences::status::facts(&state.licences, licence)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.detail))?,
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
}
