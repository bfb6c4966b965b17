//! What an operator does on the server: the `tongban` binary (a CLI command, a `serve` process),
//! files in the app's directory, SQL on its database.

use serde_json::Value;

use super::{TestApp, TestClient};

impl TestApp {
    /// Run the `tongban` binary against this app's database and keys (as an operator would on the
    /// server); (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(args)
            .current_dir(self._dir.path())
            .env("TONGBAN_LOG", "warn")
            .env("TONGBAN_DATABASE_URL", &self.state.config.database_url)
            .env("TONGBAN_KEY_DIR", &self.state.config.key_dir)
            .env("TONGBAN_ISSUER", &self.addr)
            .kill_on_drop(true)
            .output()
            .await
            .expect("run tongban");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A `tongban serve` process on this app's database and keys (any free port, `TONGBAN_LOG` =
    /// `log`, plus `env`), with its stdout and stderr piped; and its base URL, from its first line.
    pub async fn serve_process(
        &self,
        log: &str,
        env: &[(&str, &str)],
    ) -> (tokio::process::Child, String) {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .arg("serve")
            .env("TONGBAN_LOG", log)
            .env("TONGBAN_LISTEN", "127.0.0.1:0")
            .env("TONGBAN_DATABASE_URL", &self.state.config.database_url)
            .env("TONGBAN_KEY_DIR", &self.state.config.key_dir)
            .env_remove("TONGBAN_ISSUER")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        (child, base)
    }

    /// A client_credentials access token from the node at `base`.
    pub async fn token_at(&self, base: &str, c: &TestClient) -> String {
        let r: Value = self
            .http()
            .post(format!("{base}/token"))
            .basic_auth(&c.id, c.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_owned()
    }

    /// A file in this app's temporary directory.
    pub fn file(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let p = self._dir.path().join(name);
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Execute SQL directly on the app's database (tests that tamper with rows).
    pub async fn sql(&self, sql: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(sql)
            .execute(&self.state.db.pool)
            .await
            .map(|r| r.rows_affected())
    }
}
