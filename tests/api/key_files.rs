//! Keys are never silently replaced: `serve` on a data directory that holds data refuses to start
//! when a key file is missing, naming it; admin commands never create a database or a key.

use crate::helpers::spawn_app;

/// `tongban serve` on the app's database and key directory; its exit status and stderr. A server
/// that starts instead of refusing is killed once it says it is listening, and reported as such.
async fn serve_once(app: &crate::helpers::TestApp) -> (bool, String) {
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .arg("serve")
        .env("TONGBAN_LOG", "warn")
        .env("TONGBAN_LISTEN", "127.0.0.1:0")
        .env("TONGBAN_DATABASE_URL", &app.state.config.database_url)
        .env("TONGBAN_KEY_DIR", &app.state.config.key_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    let mut stdout = child.stdout.take().unwrap();
    let printed = stdout.read(&mut first).await.unwrap();
    if printed > 0 {
        child.kill().await.unwrap();
        return (true, "it started".into());
    }
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_refuses_to_start_when_a_key_file_of_a_used_database_is_missing() {
    let app = spawn_app().await;
    app.citizen("冯").await;
    let dir = app.state.config.key_dir.clone();
    for (file, _) in tongban::startup::KEY_FILES {
        let path = dir.join(file);
        let aside = dir.join("aside");
        std::fs::rename(&path, &aside).unwrap();
        let (ok, err) = serve_once(&app).await;
        assert!(!path.exists(), "{file}: nothing is generated in its place");
        std::fs::rename(&aside, &path).unwrap();
        assert!(!ok, "{file}: {err}");
        assert!(err.contains(&*path.to_string_lossy()), "{file}: {err}");
        assert!(err.contains("is missing"), "{file}: {err}");
    }
    let (ok, _, err) = app.cli(&["account", "show", "nobody@example.cn"]).await;
    assert!(
        !ok && err.contains("no such account"),
        "the directory is whole again: {err}"
    );
}

#[tokio::test]
async fn an_admin_command_in_an_empty_directory_creates_nothing() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        vec!["account", "show", "someone@example.cn"],
        vec!["client", "list"],
        vec!["keys", "list"],
        vec!["audit", "verify"],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(&args)
            .current_dir(empty.path())
            .env("TONGBAN_LOG", "warn")
            .env_remove("TONGBAN_DATABASE_URL")
            .env_remove("TONGBAN_KEY_DIR")
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains("there is no database at data/tongban.db"),
            "{args:?}: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(empty.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }
}

#[tokio::test]
async fn a_new_database_gets_its_keys_generated() {
    // The first start of a new data directory (what `demo`, `init` and spawn_app rely on) still
    // generates every key; a second start finds them.
    let app = spawn_app().await;
    for (file, _) in tongban::startup::KEY_FILES {
        assert!(app.state.config.key_dir.join(file).exists(), "{file}");
    }
}
