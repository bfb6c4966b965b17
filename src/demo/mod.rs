//! `tongban demo`: the service with a seeded world and two sample department portals, for a newcomer
//! with nothing but the repository.
//!
//! [`start`] prepares a fresh directory (SQLite database and generated keys), starts the provider,
//! seeds the world through the same public paths a real deployment uses ([`world`]), then starts two
//! relying-party web applications built on the `openidconnect` crate ([`portal`]): a housing-fund
//! portal that reads the enterprise's business licence with the holder's consent, and a tax portal
//! where she acts for her enterprise. Both take part in single sign-on and back-channel logout.
//! [`DemoHandle::instructions`] is what the terminal shows.

mod kind;
pub mod portal;
mod rp;
pub mod world;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::domain::time::now;
use crate::startup::Server;

/// The file that marks a directory as one `tongban demo` created, and so may delete.
const MARKER: &str = ".tongban-demo";

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The provider's port on 127.0.0.1; the housing-fund portal takes `port + 1` and the tax portal
    /// `port + 2`. Port 0: each on any free port.
    pub port: u16,
    /// The demo's own directory (database and keys), emptied and created afresh on every start.
    pub dir: PathBuf,
}

/// A demo account: who to sign in as.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub name: String,
    /// What to type as the user name (the email address).
    pub username: String,
    pub password: String,
}

/// The running demo: its addresses and accounts. Dropping it stops the three servers.
pub struct DemoHandle {
    /// The provider (issuer), e.g. `http://127.0.0.1:8080`.
    pub provider_url: String,
    /// The housing-fund portal, e.g. `http://127.0.0.1:8081`.
    pub housing_url: String,
    /// The tax portal, e.g. `http://127.0.0.1:8082`.
    pub tax_url: String,
    /// The demo directory (absolute).
    pub dir: PathBuf,
    /// What was seeded: accounts, the enterprise, departments, licence types and licences.
    pub world: world::Seeded,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// Start the demo: a fresh directory, the provider, the seeded world and the two portals.
pub async fn start(opts: DemoOptions) -> anyhow::Result<DemoHandle> {
    let dir = prepare_dir(&opts.dir)?;
    let ports = ports(opts.port)?;
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], ports[0])),
        database_url: format!("sqlite://{}/tongban.db?mode=rwc", dir.display()),
        key_dir: dir.join("keys"),
        ..Config::default()
    };
    let server = Server::bind(config).await.with_context(|| {
        format!(
            "starting the provider on port {} (choose another with --port)",
            ports[0]
        )
    })?;
    let state = server.state.clone();
    let provider_url = state.issuer.clone();
    let housing = bind(ports[1]).await?;
    let tax = bind(ports[2]).await?;
    let housing_url = format!("http://{}", housing.local_addr()?);
    let tax_url = format!("http://{}", tax.local_addr()?);

    let mut stop = Vec::new();
    let mut tasks = Vec::new();
    let (tx, rx) = oneshot::channel::<()>();
    stop.push(tx);
    tasks.push(tokio::spawn(server.run(async move {
        let _ = rx.await;
    })));

    let seeded = world::seed(&state, &housing_url, &tax_url, now()).await?;
    for (listener, setup) in [
        (housing, seeded.housing_portal.clone()),
        (tax, seeded.tax_portal.clone()),
    ] {
        let app = portal::Portal::new(setup, &provider_url).await?;
        let (tx, rx) = oneshot::channel::<()>();
        stop.push(tx);
        tasks.push(tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        })));
    }
    Ok(DemoHandle {
        provider_url,
        housing_url,
        tax_url,
        dir,
        world: seeded,
        stop,
        tasks,
    })
}

impl DemoHandle {
    /// Serve until `shutdown` resolves (or a server fails), then stop all three and wait (a few
    /// seconds at most) for them to finish.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut set = tokio::task::JoinSet::new();
        for t in std::mem::take(&mut self.tasks) {
            set.spawn(t);
        }
        let first_failure = async {
            while let Some(done) = set.join_next().await {
                match done {
                    Ok(Ok(Ok(()))) => {}
                    Ok(Ok(Err(e))) => return e,
                    Ok(Err(e)) | Err(e) => return anyhow::anyhow!("a demo server panicked: {e}"),
                }
            }
            anyhow::anyhow!("the demo servers stopped")
        };
        let failed = tokio::select! {
            e = first_failure => Some(e),
            () = shutdown => None,
        };
        for s in self.stop.drain(..) {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while set.join_next().await.is_some() {}
        })
        .await;
        failed.map_or(Ok(()), Err)
    }

    /// What the terminal shows: where to click, which account to use, what to expect.
    pub fn instructions(&self) -> String {
        let w = &self.world;
        let c = &w.citizen;
        let e = &w.enterprise;
        format!(
            "\
tongban demo · 通办演示

  Fresh demo data (SQLite database and keys, re-created on every start): {dir}

  通办 identity provider and licence repository   {provider}
  住房公积金 housing-fund portal                   {housing}
  电子税务局 tax portal                            {tax}

  Demo account 演示账号: {name}  user name {user}  password {password}
  She is the legal representative of {ename} (USCC {uscc}).
  The market regulator issued the enterprise a business licence (营业执照); the civil affairs
  bureau issued her and {spouse} a marriage certificate (结婚证).

  1. Open {housing} and click \"使用通办登录 Sign in with tongban\".
     Sign in as {user} with the password {password}.
     Choose to act for {ename}, then allow the portal to read the 营业执照 business licence:
     the portal shows the licence, fetched from the repository and verified. No scan to upload.
  2. Open {tax} and click \"使用通办登录 Sign in with tongban\": no password this time
     (single sign-on). Choose {ename}: the tax portal shows you acting for the enterprise.
  3. Click \"退出 Sign out\" on either portal, then reload the other: you are signed out of both.

  Also: {provider}/account/licences (her licences and the enterprise's; open one and
        \"Share this licence\" makes a link showing only the fields you tick),
        {provider}/account/access-log (who read them, on what grounds),
        {provider}/account (sign-in security: an authenticator app, recovery codes),
        {provider}/licence-types/{btype} (what a licence's vct names).

  Department systems 部门业务系统 (OAuth client_credentials at {provider}/token):
{departments}
  e.g. curl -u {first_client} -d grant_type=client_credentials -d scope=licences:issue {provider}/token

  Press Ctrl-C to stop.
",
            dir = self.dir.display(),
            provider = self.provider_url,
            housing = self.housing_url,
            tax = self.tax_url,
            name = c.name,
            user = c.username,
            password = c.password,
            ename = e.name,
            uscc = e.uscc,
            spouse = w.spouse.name,
            btype = w.business_licence_type,
            departments = w
                .department_clients
                .iter()
                .map(|(id, secret, name)| format!("    {name}  client {id}  secret {secret}"))
                .collect::<Vec<_>>()
                .join("\n"),
            first_client = w
                .department_clients
                .first()
                .map(|(id, secret, _)| format!("{id}:{secret}"))
                .unwrap_or_default(),
        )
    }
}

/// The three ports: the provider's, then the portals'. Port 0 stays 0 for all three.
fn ports(port: u16) -> anyhow::Result<[u16; 3]> {
    if port == 0 {
        return Ok([0, 0, 0]);
    }
    let next = |n: u16| {
        port.checked_add(n)
            .with_context(|| format!("--port {port}: the portals need the next two ports"))
    };
    Ok([port, next(1)?, next(2)?])
}

async fn bind(port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{port} for a demo portal (choose another --port)")
        })
}

/// Empty `dir` (only if a demo created it, or it is empty) and create it afresh with its marker;
/// returns it as an absolute path.
fn prepare_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        let ours = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        anyhow::ensure!(
            ours || empty,
            "{} exists and was not created by `tongban demo`; refusing to empty it (choose another --dir)",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "Created by `tongban demo`, which empties this directory on every start.\n",
    )?;
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portals_take_the_next_two_ports() {
        assert_eq!(ports(8080).unwrap(), [8080, 8081, 8082]);
        assert_eq!(ports(0).unwrap(), [0, 0, 0]);
        assert!(ports(65534).is_err());
    }

    #[test]
    fn a_directory_the_demo_did_not_create_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let foreign = tmp.path().join("precious");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
        assert!(prepare_dir(&foreign).is_err());
        assert!(foreign.join("notes.txt").exists());

        let demo = tmp.path().join("demo");
        let abs = prepare_dir(&demo).unwrap();
        assert!(abs.is_absolute());
        std::fs::write(demo.join("tongban.db"), "old").unwrap();
        prepare_dir(&demo).unwrap();
        assert!(
            !demo.join("tongban.db").exists(),
            "a demo directory starts fresh"
        );
        assert!(demo.join(MARKER).exists());
    }
}
