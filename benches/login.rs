//! What a sign-in costs the server, start to session, through the identity layer on SQLite: a
//! password (argon2id at the configured parameters, the throttle, the session and its audit
//! event); a password and a TOTP code (the same, then the challenge, the code checked and its time
//! step accepted once); and a passwordless passkey sign-in (a WebAuthn ceremony begun and stored,
//! the authenticator's ES256 assertion checked by webauthn-rs, the counter stored, the session).
//! The authenticator is a small software one here (an ES256 key, CBOR attestation "none"); its
//! signing is outside the measured time, as it runs on the person's device.
//!
//! Run on one core: `taskset -c 0 cargo bench --bench login` (the password pool's thread and the
//! runtime then share that core, so the time per sign-in is its CPU cost; rates are 1/time).
//! The clock is synthetic: each sign-in happens 30 s after the last, so every TOTP code is fresh.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};
use tongban::identity::factors::Proof;
use tongban::identity::sessions::{self, SignIn};
use tongban::identity::Identity;

const PASSWORD: &str = "correct horse battery staple";
const ISSUER: &str = "http://localhost:8443";

/// A software authenticator with one ES256 credential.
struct SoftAuthenticator {
    key: EcdsaKeyPair,
    cred_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
    rng: SystemRandom,
}

fn sha256(b: &[u8]) -> Vec<u8> {
    tongban::crypto::sha256(b).to_vec()
}

fn client_data(kind: &str, options: &Value) -> Vec<u8> {
    json!({
        "type": kind,
        "challenge": options["publicKey"]["challenge"],
        "origin": ISSUER,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

fn cbor(v: &ciborium::Value) -> Vec<u8> {
    let mut out = vec![];
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

impl SoftAuthenticator {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        SoftAuthenticator {
            key,
            cred_id: tongban::crypto::random_token().into_bytes(),
            user_handle: vec![],
            counter: 0,
            rng,
        }
    }

    /// The answer to `navigator.credentials.create` (user present and verified, attestation none).
    fn create(&mut self, options: &Value) -> String {
        self.user_handle = B64
            .decode(options["publicKey"]["user"]["id"].as_str().unwrap())
            .unwrap();
        let public = self.key.public_key().as_ref();
        use ciborium::Value as C;
        let cose = cbor(&C::Map(vec![
            (C::Integer(1.into()), C::Integer(2.into())),
            (C::Integer(3.into()), C::Integer((-7).into())),
            (C::Integer((-1).into()), C::Integer(1.into())),
            (C::Integer((-2).into()), C::Bytes(public[1..33].to_vec())),
            (C::Integer((-3).into()), C::Bytes(public[33..65].to_vec())),
        ]));
        let mut auth = sha256(b"localhost");
        auth.push(0x45); // UP, UV, AT
        auth.extend(0u32.to_be_bytes());
        auth.extend([0u8; 16]);
        auth.extend((self.cred_id.len() as u16).to_be_bytes());
        auth.extend(&self.cred_id);
        auth.extend(cose);
        let att = cbor(&C::Map(vec![
            (C::Text("fmt".into()), C::Text("none".into())),
            (C::Text("attStmt".into()), C::Map(vec![])),
            (C::Text("authData".into()), C::Bytes(auth)),
        ]));
        json!({
            "id": B64.encode(&self.cred_id), "rawId": B64.encode(&self.cred_id), "type": "public-key",
            "response": {
                "attestationObject": B64.encode(att),
                "clientDataJSON": B64.encode(client_data("webauthn.create", options)),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// The answer to `navigator.credentials.get` (user present and verified).
    fn get(&mut self, options: &Value) -> String {
        self.counter += 1;
        let mut auth = sha256(b"localhost");
        auth.push(0x05); // UP, UV
        auth.extend(self.counter.to_be_bytes());
        let cd = client_data("webauthn.get", options);
        let mut signed = auth.clone();
        signed.extend(sha256(&cd));
        let sig = self.key.sign(&self.rng, &signed).unwrap();
        json!({
            "id": B64.encode(&self.cred_id), "rawId": B64.encode(&self.cred_id), "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth),
                "clientDataJSON": B64.encode(cd),
                "signature": B64.encode(sig.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
}

/// A server's identity layer on a fresh SQLite database (not serving: the calls are direct).
async fn identity(dir: &std::path::Path) -> Identity {
    let config = tongban::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        issuer: ISSUER.into(),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
        key_dir: dir.join("keys"),
        ..tongban::config::Config::default()
    };
    let server = tongban::startup::Server::bind(config).await.unwrap();
    server.state.identity.clone()
}

async fn citizen(ctx: &Identity, email: &str, now: i64) -> tongban::storage::accounts::AccountRow {
    let base = format!("11010119800101{:03}", email.len());
    let check = tongban::domain::ResidentId::check_char(base.as_bytes()) as char;
    let reg = tongban::identity::accounts::Registration {
        name: "测试".into(),
        id_kind: "resident".into(),
        id_number: format!("{base}{check}"),
        email: email.into(),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let id = tongban::identity::accounts::register(ctx, &reg, now)
        .await
        .unwrap();
    tongban::identity::accounts::account(ctx, &id)
        .await
        .unwrap()
        .unwrap()
}

fn totp_at(secret: &str, now: i64) -> String {
    let key = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, key, None, "x".into()).unwrap();
    t.generate(u64::try_from(now).unwrap())
}

const ADDR: &str = "192.0.2.1";

async fn password(ctx: &Identity, now: i64) {
    let s = sessions::password_sign_in(ctx, "pwd@example.cn", PASSWORD, ADDR, now)
        .await
        .unwrap();
    assert!(matches!(s, SignIn::Session(_)));
}

/// The password step of the TOTP account: its challenge.
async fn challenge(ctx: &Identity, now: i64) -> String {
    match sessions::password_sign_in(ctx, "totp@example.cn", PASSWORD, ADDR, now).await {
        Ok(SignIn::SecondFactor(c)) => c,
        _ => panic!("a second factor is asked"),
    }
}

/// The second step: the app's code for `now`.
async fn totp_step(ctx: &Identity, challenge: &str, secret: &str, now: i64) {
    let code = totp_at(secret, now);
    sessions::second_factor_sign_in(ctx, challenge, Proof::Code(&code), ADDR, now)
        .await
        .unwrap();
}

fn logins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut now = 1_900_000_000;
    let (ctx, secret, mut soft) = rt.block_on(async {
        let ctx = identity(dir.path()).await;
        citizen(&ctx, "pwd@example.cn", now).await;
        let totp = citizen(&ctx, "totp@example.cn", now).await;
        let e = tongban::identity::totp::begin_totp(&ctx, &totp, "tongban", now)
            .await
            .unwrap();
        tongban::identity::totp::confirm_totp(
            &ctx,
            &totp,
            &totp_at(&e.secret_base32, now),
            ADDR,
            now,
        )
        .await
        .unwrap();
        let pk = citizen(&ctx, "passkey@example.cn", now).await;
        let mut soft = SoftAuthenticator::new();
        let begun = tongban::identity::passkeys::begin_registration(&ctx, &pk, now)
            .await
            .unwrap();
        let answer = soft.create(&begun.options);
        tongban::identity::passkeys::finish_registration(&ctx, &pk, &begun.secret, &answer, now)
            .await
            .unwrap();
        (ctx, e.secret_base32, soft)
    });

    // Paired, interleaved (the machine drifts by ±20% within seconds): a password sign-in and a
    // password + TOTP sign-in, then the reverse order, PAIRS times; medians and their ratio.
    const PAIRS: usize = 100;
    let (mut pwd, mut two) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
    for i in 0..PAIRS {
        for first in [i % 2 == 0, i % 2 != 0] {
            now += 30;
            let t = Instant::now();
            rt.block_on(async {
                if first {
                    password(&ctx, now).await;
                } else {
                    let c = challenge(&ctx, now).await;
                    totp_step(&ctx, &c, &secret, now).await;
                }
            });
            if first {
                pwd.push(t.elapsed())
            } else {
                two.push(t.elapsed())
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (mp, mt) = (median(&mut pwd), median(&mut two));
    println!(
        "paired, {PAIRS} pairs: password {mp:?}, password + TOTP {mt:?}, ratio {:.3}",
        mt.as_secs_f64() / mp.as_secs_f64()
    );

    let mut g = c.benchmark_group("login");
    g.sample_size(30).measurement_time(Duration::from_secs(20));
    g.bench_function("password", |b| {
        b.iter(|| {
            now += 30;
            rt.block_on(password(&ctx, now))
        })
    });
    g.bench_function("password_and_totp", |b| {
        b.iter(|| {
            now += 30;
            rt.block_on(async {
                let c = challenge(&ctx, now).await;
                totp_step(&ctx, &c, &secret, now).await;
            })
        })
    });
    // The second step alone (the code checked, its step accepted, the session opened).
    g.bench_function("totp_step_only", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                now += 30;
                let c = rt.block_on(challenge(&ctx, now));
                let t = Instant::now();
                rt.block_on(totp_step(&ctx, &c, &secret, now));
                spent += t.elapsed();
            }
            spent
        })
    });
    g.bench_function("passkey", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                now += 30;
                let t = Instant::now();
                let begun = rt
                    .block_on(tongban::identity::passkeys::begin_discovery(&ctx, now))
                    .unwrap();
                spent += t.elapsed();
                let answer = soft.get(&begun.options);
                let t = Instant::now();
                rt.block_on(sessions::passkey_sign_in(
                    &ctx,
                    &begun.secret,
                    &answer,
                    ADDR,
                    now,
                ))
                .unwrap();
                spent += t.elapsed();
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, logins);
criterion_main!(benches);
