//! The binary as a newcomer and an operator use it: `tongban serve` in an empty directory creates its
//! SQLite database and keys and answers discovery; `init`, `client`, `account` and `keys` work.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn tongban(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tongban"));
    c.current_dir(dir)
        .env("TONGBAN_LOG", "warn")
        .env_remove("TONGBAN_DATABASE_URL")
        .kill_on_drop(true);
    c
}

async fn run(
    dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, serde_json::Value, String) {
    let mut c = tongban(dir);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        use tokio::io::AsyncWriteExt;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(s.as_bytes())
            .await
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_needs_no_setup_and_answers_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tongban(dir.path())
        .arg("serve")
        .env("TONGBAN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the server reports its address")
        .unwrap()
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an address")
        .to_owned();
    let meta: serde_json::Value = reqwest::get(format!("{url}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], url.as_str());
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(
        dir.path().join("data/tongban.db").exists(),
        "SQLite under ./data"
    );
    assert!(
        dir.path().join("keys/keyset.json").exists(),
        "keys under ./keys"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn operator_commands_manage_clients_accounts_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, init, err) = run(d, &["init"], None).await;
    assert!(ok, "{err}");
    assert_eq!(
        init["keys"].as_array().unwrap().len(),
        4,
        "an active and a next key for ES256 and RS256"
    );

    let (ok, c, err) = run(
        d,
        &[
            "client",
            "add",
            "--name",
            "住房公积金门户",
            "--redirect-uri",
            "https://gjj.example.cn/cb",
            "--id-token-alg",
            "ES256",
            "--scope",
            "openid",
            "--scope",
            "profile",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let id = c["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        c["client_secret"].as_str().unwrap().len(),
        43,
        "the secret is shown once"
    );
    let (_, list, _) = run(d, &["client", "list"], None).await;
    assert_eq!(list[0]["client_id"], id.as_str());
    let (_, show, _) = run(d, &["client", "show", &id], None).await;
    assert!(
        show.get("client_secret").is_none() && !show.to_string().contains("secret_hash"),
        "the secret is never shown again"
    );
    let (ok, _, err) = run(
        d,
        &[
            "client",
            "add",
            "--name",
            "bad",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    )
    .await;
    assert!(
        !ok && err.contains("https"),
        "plain http only for localhost: {err}"
    );
    let (ok, _, _) = run(d, &["client", "remove", &id], None).await;
    assert!(ok);

    let (ok, _, err) = run(
        d,
        &[
            "account",
            "add",
            "--name",
            "柜台用户",
            "--id-number",
            "11010519491231002X",
            "--phone",
            "13800138000",
            "--verified",
        ],
        Some("Counter-Password-7\n"),
    )
    .await;
    assert!(ok, "{err}");
    let (ok, acct, _) = run(d, &["account", "show", "13800138000"], None).await;
    assert!(ok);
    assert_eq!(acct["loa"], 3);
    assert_eq!(acct["id_number"], "1101************2X", "masked");
    let (ok, _, err) = run(
        d,
        &[
            "account",
            "add",
            "--name",
            "x",
            "--id-number",
            "110105194912310021",
            "--phone",
            "13800138001",
        ],
        Some("Counter-Password-7\n"),
    )
    .await;
    assert!(
        !ok && err.contains("id_number_invalid"),
        "the check digit is validated: {err}"
    );
    let (ok, dis, _) = run(d, &["account", "disable", "11010519491231002X"], None).await;
    assert!(ok && dis["disabled"].is_string());

    let (ok, rotated, err) = run(d, &["keys", "rotate"], None).await;
    assert!(ok, "{err}");
    assert_eq!(
        rotated["keys"].as_array().unwrap().len(),
        6,
        "retired keys stay published until their tokens expire"
    );
}

#[tokio::test]
async fn operators_prove_identities_and_mend_accounts_and_enterprises() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = run(d, &["init"], None).await;
    assert!(ok, "{err}");
    let (a, b, c) = (
        crate::helpers::resident_id(),
        crate::helpers::resident_id(),
        crate::helpers::resident_id(),
    );
    let pw = Some("Counter-Password-7\n");
    let add = |name: &'static str, id: String, phone: &'static str, verified: bool| async move {
        let mut args = vec![
            "account",
            "add",
            "--name",
            name,
            "--id-number",
            &id,
            "--phone",
            phone,
        ];
        if verified {
            args.push("--verified");
        }
        let (ok, out, err) = run(d, &args, pw).await;
        assert!(ok, "{err}");
        assert_eq!(out["proven"], verified);
    };
    add("甲", a.clone(), "13800138010", true).await;
    add("乙", b.clone(), "13800138011", true).await;
    add("丙", c.clone(), "13800138012", false).await;
    let uscc = "9144030071526726XG";
    let (ok, _, err) = run(
        d,
        &[
            "enterprise",
            "add",
            "--uscc",
            uscc,
            "--name",
            "示范公司",
            "--legal-representative",
            "13800138012",
        ],
        None,
    )
    .await;
    assert!(
        !ok && err.contains("identity_not_proven"),
        "a claimed identity represents nothing: {err}"
    );
    let (ok, _, err) = run(
        d,
        &[
            "enterprise",
            "add",
            "--uscc",
            uscc,
            "--name",
            "示范公司",
            "--legal-representative",
            "13800138010",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");

    // A new legal representative: proven, and not the same one.
    let set = |rep: &'static str| async move {
        let args = [
            "enterprise",
            "set-representative",
            "--uscc",
            uscc,
            "--legal-representative",
            rep,
        ];
        run(d, &args, None).await
    };
    let (ok, _, err) = set("13800138012").await;
    assert!(!ok && err.contains("identity_not_proven"), "{err}");
    let (ok, out, err) = set("13800138011").await;
    assert!(ok, "{err}");
    assert_eq!(out["agents_to_review"], serde_json::json!([]));
    let (ok, _, err) = set("13800138011").await;
    assert!(!ok && err.contains("agent_is_self"), "{err}");

    // The claimed identity, proven by the operator on the document checked.
    let (ok, _, err) = run(
        d,
        &[
            "account",
            "prove",
            "13800138012",
            "--id-number",
            &c,
            "--name",
            "丁",
            "--evidence",
            "居民身份证原件",
        ],
        None,
    )
    .await;
    assert!(
        !ok && err.contains("identity_mismatch"),
        "the name must be the document's: {err}"
    );
    let (ok, _, err) = run(
        d,
        &[
            "account",
            "prove",
            "13800138012",
            "--id-number",
            &c,
            "--name",
            "丙",
            "--evidence",
            "居民身份证原件",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let (ok, events, err) = run(d, &["account", "proofing", "13800138012"], None).await;
    assert!(ok, "{err}");
    assert_eq!(
        (
            events["proven"].as_bool(),
            events["events"][0]["method"].as_str()
        ),
        (Some(true), Some("counter"))
    );
    let (_, events, _) = run(d, &["account", "proofing", "13800138010"], None).await;
    assert_eq!(events["events"][0]["method"], "counter_registration");
    assert_eq!(
        (
            events["factors"].clone(),
            events["recovery_codes_left"].clone()
        ),
        (serde_json::json!([]), serde_json::json!(0)),
        "no second factor yet: listed, empty"
    );

    // Disabled, then re-enabled.
    let (ok, _, _) = run(d, &["account", "disable", "13800138010"], None).await;
    assert!(ok);
    let (ok, out, err) = run(d, &["account", "enable", "13800138010"], None).await;
    assert!(ok && out["enabled"].is_string(), "{err}");
    let (ok, _, err) = run(d, &["account", "enable", "13800138010"], None).await;
    assert!(!ok && err.contains("not disabled"), "{err}");
    let _ = (a, b);
}
