//! Native TLS (`tls_cert`, `tls_key`): the node speaks HTTPS itself, its issuer is `https://`, and a
//! client that does not trust the certificate, or speaks plain HTTP, gets nowhere. And TLS to
//! PostgreSQL (`sslmode=require` in the database URL), which managed databases insist on.

use crate::helpers::spawn_postgres_app_with;

#[tokio::test]
async fn serve_terminates_tls_with_the_configured_certificate() {
    let (app, ck, _dir) = crate::helpers::spawn_tls_app().await;
    assert!(app.addr.starts_with("https://127.0.0.1:"), "{}", app.addr);

    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = trusting
        .get(format!("{}/.well-known/openid-configuration", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    let meta: serde_json::Value = r.json().await.unwrap();
    assert_eq!(meta["issuer"], app.addr);

    // Not trusted: the handshake fails, and the server goes on serving others.
    let untrusting = reqwest::Client::builder().build().unwrap();
    assert!(untrusting
        .get(format!("{}/healthz", app.addr))
        .send()
        .await
        .is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = app.addr.replacen("https://", "http://", 1);
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    let r = trusting
        .get(format!("{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_certificate_without_its_key_is_refused_at_start() {
    let err = tongban::config::Config::load(
        None,
        [("TONGBAN_TLS_CERT".to_owned(), "/etc/tls.pem".to_owned())].into_iter(),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("tls_cert and tls_key go together"),
        "{err:#}"
    );
}

#[tokio::test]
async fn the_database_connection_can_require_tls() {
    let app = spawn_postgres_app_with(|c| c.database_url.push_str("?sslmode=require")).await;
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert!(ssl, "the pool's connection is encrypted");
    // And the service works over it.
    let r = app
        .http()
        .get(format!("{}/readyz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
