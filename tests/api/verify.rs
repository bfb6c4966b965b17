//! Verification through `POST /api/v1/verify`: distinct verdicts for valid, suspended, revoked,
//! tampered, not issued by this repository, and signed with a revoked certificate; and "was this
//! licence valid on date D?".

use base64::Engine;
use serde_json::{json, Value};

use crate::licences::{
    business_licence_type, request, world, World, MARKET_REGULATOR, OTHER_DEPARTMENT,
};

async fn verify(w: &World, licence: &str, at: Option<i64>) -> Value {
    let mut body = json!({ "licence": licence });
    if let Some(a) = at {
        body["at"] = json!(a);
    }
    let r = w
        .app
        .http()
        .post(format!("{}/api/v1/verify", w.app.addr))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

async fn issue(w: &World) -> Value {
    let (s, b, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(w), &[])
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

#[tokio::test]
async fn verdicts_follow_the_status_and_answer_for_a_past_date() {
    let w = world().await;
    // Valid since 2000 s ago (a licence migrated from an existing register), so earlier dates are in range.
    let mut req = request(&w);
    req["valid_from"] = json!(tongban::domain::time::now() - 2000);
    let (s, l, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &req, &[])
        .await;
    assert_eq!(s, 201, "{l}");
    let licence = l["licence"].as_str().unwrap();
    let id = l["id"].as_str().unwrap();
    let r = verify(&w, licence, None).await;
    assert_eq!(r["verdict"], "valid", "{r}");
    for c in [
        "format",
        "certificate_chain",
        "signature",
        "issuer",
        "certificate_at_signing",
        "disclosures",
        "validity_period",
        "status",
        "repository_record",
    ] {
        assert_eq!(check(&r, c)["outcome"], "pass", "{c}: {r}");
    }
    assert_eq!(
        r["claims"]["holders"][0]["id"],
        crate::licences::ENTERPRISE,
        "every disclosure revealed"
    );

    let change = |action: &'static str, reason: &'static str| {
        let w = &w;
        async move {
            w.app
                .post_json(
                    &format!("/api/v1/licences/{id}/{action}"),
                    &w.token,
                    &json!({ "reason": reason }),
                    &[],
                )
                .await
                .0
        }
    };
    assert_eq!(change("suspend", "under_investigation").await, 200);
    assert_eq!(verify(&w, licence, None).await["verdict"], "suspended");
    assert_eq!(change("reinstate", "other").await, 200);
    assert_eq!(verify(&w, licence, None).await["verdict"], "valid");
    assert_eq!(change("revoke", "withdrawn").await, 200);
    let r = verify(&w, licence, None).await;
    assert_eq!(r["verdict"], "revoked");
    assert_eq!(check(&r, "status")["outcome"], "fail");

    // Age the history (issued 1000 s ago, suspended 500-400 s ago, revoked now) and ask about the past.
    let ev = |seq: i64, delta: i64| {
        format!("UPDATE licence_status_events SET at = at - {delta} WHERE seq = {seq}")
    };
    for (seq, delta) in [(1, 1000), (2, 500), (3, 400)] {
        sqlx::query(&ev(seq, delta))
            .execute(&w.app.state.db.pool)
            .await
            .unwrap();
    }
    // The edit bypassed the service: drop its cached facts (otherwise at most 2 seconds old).
    w.app.state.licences.licence_facts.invalidate_all();
    let now = tongban::domain::time::now();
    assert_eq!(
        verify(&w, licence, Some(now - 900)).await["verdict"],
        "valid",
        "revoked after D: valid on D"
    );
    assert_eq!(
        verify(&w, licence, Some(now - 450)).await["verdict"],
        "suspended",
        "suspended over D"
    );
    assert_eq!(verify(&w, licence, Some(now)).await["verdict"], "revoked");

    // The same questions to `tongban verify --online --at D`, which reads the repository's records.
    let root = w.app.file(
        "root.pem",
        &w.app
            .http()
            .get(format!("{}/pki/root.pem", w.app.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let file = w.app.file("licence.txt", licence);
    for (at, verdict) in [
        (now - 900, "valid"),
        (now - 450, "suspended"),
        (now, "revoked"),
    ] {
        let at = at.to_string();
        let (ok, out, err) = w
            .app
            .cli(&[
                "verify",
                file.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
                "--online",
                "--at",
                &at,
            ])
            .await;
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out} {err}"));
        assert_eq!(
            (ok, report["verdict"].as_str()),
            (verdict == "valid", Some(verdict)),
            "{report}"
        );
        for c in [
            "certificate_at_signing",
            "repository_record",
            "transparency_log",
        ] {
            assert_eq!(
                check(&report, c)["outcome"],
                "pass",
                "{c} names its fact: {report}"
            );
        }
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

#[tokio::test]
async fn tampering_and_foreign_licences_get_their_own_verdicts() {
    let w = world().await;
    let l = issue(&w).await;
    let licence = l["licence"].as_str().unwrap().to_owned();
    let (jwt, rest) = licence.split_once('~').unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();

    // A byte of the payload.
    let mut payload: Value = serde_json::from_slice(&b64().decode(parts[1]).unwrap()).unwrap();
    payload["registered_capital"] = json!(999_999_999);
    let forged = format!(
        "{}.{}.{}~{rest}",
        parts[0],
        b64().encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(verify(&w, &forged, None).await["verdict"], "tampered");

    // A disclosure.
    let disclosures: Vec<&str> = rest.split('~').filter(|d| !d.is_empty()).collect();
    let mut d: Value = serde_json::from_slice(&b64().decode(disclosures[0]).unwrap()).unwrap();
    d[2] = json!("篡改");
    let forged = format!(
        "{jwt}~{}~{}~",
        b64().encode(d.to_string()),
        disclosures[1..].join("~")
    );
    let r = verify(&w, &forged, None).await;
    assert_eq!(r["verdict"], "tampered");
    assert_eq!(check(&r, "disclosures")["outcome"], "fail");

    // The x5c leaf swapped for another department's certificate from the same CA.
    let other = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let other_type = business_licence_type(OTHER_DEPARTMENT);
    w.app.licence_type(other_type.clone()).await;
    let other_token = w.app.dept_token(&other).await;
    let mut req = request(&w);
    req["type_code"] = other_type["code"].clone();
    let (s, ol, _) = w
        .app
        .post_json("/api/v1/licences", &other_token, &req, &[])
        .await;
    assert_eq!(s, 201, "{ol}");
    let other_header: Value = serde_json::from_slice(
        &b64()
            .decode(ol["licence"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut header: Value = serde_json::from_slice(&b64().decode(parts[0]).unwrap()).unwrap();
    header["x5c"][0] = other_header["x5c"][0].clone();
    let swapped = format!(
        "{}.{}.{}~{rest}",
        b64().encode(header.to_string()),
        parts[1],
        parts[2]
    );
    assert_eq!(verify(&w, &swapped, None).await["verdict"], "tampered");

    // A licence from another root: a look-alike CA with the same names.
    let dir = tempfile::tempdir().unwrap();
    let rogue =
        tongban::pki::Ca::create(dir.path(), "tongban", tongban::domain::time::now()).unwrap();
    let key = tongban::pki::generate_department_key().unwrap();
    let uscc = tongban::domain::Uscc::parse(MARKET_REGULATOR).unwrap();
    let subject = tongban::pki::DepartmentSubject {
        name: "福州市市场监督管理局",
        uscc: &uscc,
        iss_url: &w.dept.row.iss,
    };
    let now = tongban::domain::time::now();
    let cert = rogue
        .issue_department(
            &subject,
            tongban::pki::Purpose::LicenceSigning,
            key.public_key(),
            now,
            now + 86_400,
        )
        .unwrap();
    let signer = tongban::licences::vc::Signer::new(
        cert.serial,
        key.pkcs8_der(),
        &[cert.der, rogue.intermediate_der().to_vec()],
    )
    .unwrap();
    let claims = payload.as_object().unwrap().clone();
    let mut claims = claims;
    claims.remove("_sd");
    claims.remove("_sd_alg");
    let foreign = signer.sign_licence(claims, &[]).unwrap();
    let r = verify(&w, &foreign, None).await;
    assert_eq!(r["verdict"], "not_issued_here", "{r}");
}

#[tokio::test]
async fn a_revoked_department_certificate_invalidates_only_what_it_signs_afterwards() {
    let w = world().await;
    let before = issue(&w).await;
    let serial = tongban::storage::departments::current_cert(
        &w.app.state.db,
        &w.dept.row.id,
        "licence_signing",
        tongban::domain::time::now(),
    )
    .await
    .unwrap()
    .unwrap();
    // Revoke the certificate one second after `before` was signed (set explicitly: no waiting).
    let issued_at = before["issued_at"].as_i64().unwrap();
    tongban::licences::departments::revoke_cert(
        &w.app.state.licences,
        &serial.serial,
        "key_compromise",
        "system",
        issued_at,
    )
    .await
    .unwrap();
    sqlx::query("UPDATE department_certs SET revoked_at = $1 WHERE serial = $2")
        .bind(issued_at + 1)
        .bind(&serial.serial)
        .execute(&w.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        verify(&w, before["licence"].as_str().unwrap(), None).await["verdict"],
        "valid",
        "signed before the revocation"
    );

    // Whoever holds the compromised key signs a licence afterwards: refused.
    let key = w
        .app
        .state
        .provider
        .keys
        .data()
        .open_bytes(&serial.key_sealed, &serial.serial)
        .unwrap();
    let signer = tongban::licences::vc::Signer::new(
        serial.serial.clone(),
        &key,
        &[
            serial.cert_der.clone(),
            w.app.state.licences.ca.intermediate_der().to_vec(),
        ],
    )
    .unwrap();
    let jwt = before["licence"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let mut claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&b64().decode(jwt).unwrap()).unwrap();
    claims.insert("iat".into(), json!(issued_at + 2));
    claims.remove("_sd");
    claims.remove("_sd_alg");
    let after = signer.sign_licence(claims, &[]).unwrap();
    let r = verify(&w, &after, None).await;
    assert_eq!(r["verdict"], "invalid_certificate", "{r}");
    assert_eq!(check(&r, "certificate_at_signing")["outcome"], "fail");

    // The department renews and issues again: valid.
    let fresh = tongban::licences::departments::renew(
        &w.app.state.licences,
        &w.dept.row,
        "system",
        tongban::domain::time::now(),
    )
    .await
    .unwrap();
    assert_eq!(fresh.len(), 2);
    let again = issue(&w).await;
    assert_eq!(
        verify(&w, again["licence"].as_str().unwrap(), None).await["verdict"],
        "valid"
    );
}

#[tokio::test]
async fn public_verification_is_rate_limited_per_address() {
    let app = crate::helpers::spawn_app_with(|c| c.verify_rate_per_address = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = app
            .http()
            .post(format!("{}/api/v1/verify", app.addr))
            .json(&json!({ "licence": "not.a.licence" }))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}
