//! The transparency log through the API and the CLI: issuance answers with an inclusion receipt that
//! verifies offline; checkpoints, proofs and entries are served and verify with the independent
//! verifier (`tongban::tlog::proof`, which shares no code with the prover); `tongban audit
//! verify-log` checks the log against a checkpoint saved earlier; a licence put into the database
//! without issuance is "not in the transparency log".

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tongban::tlog::note::open_checkpoint;
use tongban::tlog::proof;

use crate::helpers::is_postgres;
use crate::licences::{request, world, World, ENTERPRISE};

async fn get(w: &World, path: &str) -> (u16, String) {
    let r = w
        .app
        .http()
        .get(format!("{}{path}", w.app.addr))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn issue(w: &World) -> Value {
    let (s, b, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(w), &[])
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            STANDARD
                .decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn issuance_is_logged_with_a_receipt_that_verifies_offline() {
    let w = world().await;
    let (s, vkey) = get(&w, "/api/v1/log/key").await;
    assert_eq!(s, 200);
    let vkey = vkey.trim().to_owned();
    let (s, _) = get(&w, "/api/v1/log/checkpoint").await;
    assert_eq!(s, 404, "an empty log has no checkpoint");

    let first = issue(&w).await;
    let receipt = &first["receipt"];
    assert_eq!(receipt["log_index"], json!(0), "{first}");
    let cp = open_checkpoint(receipt["checkpoint"].as_str().unwrap(), &vkey).unwrap();
    assert_eq!(cp.size, 1);
    // The leaf holds hashes and codes only.
    let leaf: Value = serde_json::from_str(receipt["leaf"].as_str().unwrap()).unwrap();
    let mut keys: Vec<&String> = leaf.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["at", "digest", "event", "licence", "status", "v"],
        "{leaf}"
    );
    assert!(!receipt["leaf"].as_str().unwrap().contains(ENTERPRISE));

    // Save the checkpoint now; more happens; the log still extends it.
    let (s, saved) = get(&w, "/api/v1/log/checkpoint").await;
    assert_eq!(s, 200);
    let saved_path = w.app.file("saved-checkpoint.txt", &saved);
    let second = issue(&w).await;
    let id = second["id"].as_str().unwrap();
    let (s, _, _) = w
        .app
        .post_json(
            &format!("/api/v1/licences/{id}/revoke"),
            &w.token,
            &json!({ "reason": "withdrawn" }),
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let third = issue(&w).await;
    assert_eq!(
        third["receipt"]["log_index"],
        json!(3),
        "issue, issue, revoke, issue"
    );

    // The receipt verifies with the independent verifier, against the signed checkpoint.
    let r = &third["receipt"];
    let cp = open_checkpoint(r["checkpoint"].as_str().unwrap(), &vkey).unwrap();
    let leaf_hash = proof::leaf_hash(r["leaf"].as_str().unwrap().as_bytes());
    proof::verify_inclusion(
        &leaf_hash,
        3,
        cp.size,
        &hashes(&r["inclusion_proof"]),
        &cp.root,
    )
    .unwrap();

    // Served proofs: inclusion of every leaf, consistency from every earlier size.
    let (s, entries) = get(&w, &format!("/api/v1/log/entries?start=0&end={}", cp.size)).await;
    assert_eq!(s, 200, "{entries}");
    let entries: Value = serde_json::from_str(&entries).unwrap();
    let entries = entries["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, cp.size);
    let events: Vec<Value> = entries
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["leaf"].as_str().unwrap()).unwrap()["event"].clone()
        })
        .collect();
    assert_eq!(
        events,
        [
            json!("issued"),
            json!("issued"),
            json!("revoked"),
            json!("issued")
        ]
    );
    for (i, e) in entries.iter().enumerate() {
        let (s, p) = get(
            &w,
            &format!("/api/v1/log/inclusion?index={i}&size={}", cp.size),
        )
        .await;
        assert_eq!(s, 200, "{p}");
        let p: Value = serde_json::from_str(&p).unwrap();
        let h = proof::leaf_hash(e["leaf"].as_str().unwrap().as_bytes());
        proof::verify_inclusion(&h, i as u64, cp.size, &hashes(&p["proof"]), &cp.root)
            .unwrap_or_else(|err| panic!("leaf {i}: {err}"));
    }
    let old = open_checkpoint(&saved, &vkey).unwrap();
    let (s, p) = get(
        &w,
        &format!("/api/v1/log/consistency?old={}&new={}", old.size, cp.size),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let p: Value = serde_json::from_str(&p).unwrap();
    proof::verify_consistency(old.size, cp.size, &old.root, &cp.root, &hashes(&p["proof"]))
        .unwrap();
    for bad in [
        "/api/v1/log/inclusion?index=9",
        "/api/v1/log/consistency?old=0",
        "/api/v1/log/entries?start=2&end=1",
        "/api/v1/log/entries?start=0&end=99",
    ] {
        let (s, body) = get(&w, bad).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }

    // Offline, with the CLI: the receipt against the log key.
    let root = w.app.file("root.pem", &get(&w, "/pki/root.pem").await.1);
    let licence = w
        .app
        .file("licence.txt", third["licence"].as_str().unwrap());
    let receipt_file = w.app.file("receipt.json", &third["receipt"].to_string());
    let with_receipt = |receipt: std::path::PathBuf| {
        let (w, licence, root, vkey) = (&w, licence.clone(), root.clone(), vkey.clone());
        async move {
            w.app
                .cli(&[
                    "verify",
                    licence.to_str().unwrap(),
                    "--root",
                    root.to_str().unwrap(),
                    "--receipt",
                    receipt.to_str().unwrap(),
                    "--log-key",
                    &vkey,
                ])
                .await
        }
    };
    let (ok, out, err) = with_receipt(receipt_file).await;
    assert!(ok, "{out} {err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "transparency_log")
        .unwrap();
    assert_eq!(check["outcome"], "pass", "{report}");
    // Another licence's receipt does not prove this one.
    let other = w.app.file("other.json", &first["receipt"].to_string());
    let (ok, out, _) = with_receipt(other).await;
    assert!(!ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verdict"], "not_in_log", "{report}");

    // The log against the checkpoint saved earlier: append-only.
    let (ok, out, err) = w
        .app
        .cli(&["audit", "verify-log", saved_path.to_str().unwrap()])
        .await;
    assert!(ok, "{out} {err}");
    // A rewritten leaf (triggers dropped) is found.
    let drop = if is_postgres() {
        "DROP TRIGGER tlog_leaves_append_only ON tlog_leaves"
    } else {
        "DROP TRIGGER tlog_leaves_no_update"
    };
    w.app.sql(drop).await.unwrap();
    let rewrite = if is_postgres() {
        r"UPDATE tlog_leaves SET leaf = leaf || '\x20'::bytea WHERE idx = 0"
    } else {
        "UPDATE tlog_leaves SET leaf = CAST(leaf || ' ' AS BLOB) WHERE idx = 0"
    };
    w.app.sql(rewrite).await.unwrap();
    let (ok, out, err) = w
        .app
        .cli(&["audit", "verify-log", saved_path.to_str().unwrap()])
        .await;
    assert!(!ok, "{out} {err}");
    assert!(out.contains("the log was rewritten"), "{out} {err}");
}

/// A licence signed with the department's key and written straight into the database, as an
/// insider with database access might: genuine signature, but never logged.
async fn smuggle(w: &World) -> String {
    use tongban::licences::{departments, id, issue, vc};
    let state = &w.app.state;
    let now = tongban::domain::time::now();
    let signer = departments::signer(
        &state.licences,
        &w.dept.row.id,
        tongban::pki::Purpose::LicenceSigning,
        now,
    )
    .await
    .unwrap()
    .unwrap();
    let type_code = id::LicenceTypeCode::parse(&w.type_code).unwrap();
    let issuer = tongban::domain::Uscc::parse(&w.dept.row.uscc).unwrap();
    let jti = id::LicenceId::new(&type_code, &issuer, &id::LicenceId::random_serial(), 1).unwrap();
    let req = request(w);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(w.dept.row.iss));
    claims.insert(
        "vct".into(),
        json!(format!("{}/licence-types/{}", w.app.addr, w.type_code)),
    );
    claims.insert("jti".into(), json!(jti.as_str()));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now));
    claims.insert("type_name".into(), json!("营业执照"));
    claims.insert(
        "status".into(),
        json!({ "status_list": { "idx": 7, "uri": tongban::licences::revocation::status_uri(&state.licences, &w.dept.row.id) } }),
    );
    claims.insert("holders".into(), req["holders"].clone());
    claims.extend(req["fields"].as_object().unwrap().clone());
    let sd_jwt = signer
        .sign_licence(claims, &["holders", "address"])
        .unwrap();
    let _: &vc::Signer = &signer;
    let row = tongban::storage::licences::LicenceRow {
        id: jti.as_str().to_owned(),
        type_code: w.type_code.clone(),
        issuer_id: w.dept.row.id.clone(),
        status_idx: 7,
        status: 0,
        cert_serial: signer.serial.clone(),
        sd_jwt_sealed: state
            .provider
            .keys
            .data()
            .seal_bytes(sd_jwt.as_bytes(), jti.as_str()),
        issued_at: now,
        expires_at: None,
        supersedes: None,
        superseded_by: None,
    };
    let holder: issue::HolderRef = serde_json::from_value(req["holders"][0].clone()).unwrap();
    let index = issue::holder_index(&state.licences, &holder).unwrap();
    let mut tx = state.db.begin().await.unwrap();
    let mut b = tongban::storage::Batch::new(state.db.backend);
    tongban::storage::licences::insert_into(&mut b, &row, &[index], &w.dept.row.id);
    b.execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    sd_jwt
}

#[tokio::test]
async fn a_licence_that_skipped_issuance_is_not_in_the_transparency_log() {
    let w = world().await;
    let genuine = issue(&w).await;
    let smuggled = smuggle(&w).await;
    let verify = |licence: String| {
        let w = &w;
        async move {
            let (s, r, _) = w
                .app
                .post_json("/api/v1/verify", "", &json!({ "licence": licence }), &[])
                .await;
            assert_eq!(s, 200);
            r
        }
    };
    let r = verify(genuine["licence"].as_str().unwrap().to_owned()).await;
    assert_eq!(r["verdict"], "valid", "{r}");
    let r = verify(smuggled.clone()).await;
    assert_eq!(r["verdict"], "not_in_log", "{r}");
    let check = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "transparency_log")
        .unwrap()
        .clone();
    assert_eq!(check["outcome"], "fail", "{r}");
    // The signature itself is genuine: only the log tells.
    let sig = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "signature")
        .unwrap();
    assert_eq!(sig["outcome"], "pass");

    // `tongban verify --online`, reading the repository's database.
    let root = w.app.file("root.pem", &get(&w, "/pki/root.pem").await.1);
    let file = w.app.file("smuggled.txt", &smuggled);
    let (ok, out, _) = w
        .app
        .cli(&[
            "verify",
            file.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--online",
        ])
        .await;
    assert!(!ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verdict"], "not_in_log", "{report}");
    assert!(report.to_string().contains("not in the transparency log"));
    let file = w
        .app
        .file("genuine.txt", genuine["licence"].as_str().unwrap());
    let (ok, out, err) = w
        .app
        .cli(&[
            "verify",
            file.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--online",
        ])
        .await;
    assert!(ok, "{out} {err}");
}

/// Past 16 leaves the log stores subtree hashes (levels 4 and up) and recomputes the lower ones from
/// the leaves: every receipt, every served inclusion proof and every consistency proof across block
/// boundaries verifies with the independent verifier.
#[tokio::test]
async fn proofs_across_stored_and_recomputed_levels_verify() {
    let w = world().await;
    let vkey = get(&w, "/api/v1/log/key").await.1.trim().to_owned();
    let mut roots = vec![[0u8; 32]]; // roots[n]: the root at size n, from the receipts
    let mut leaves = Vec::new();
    for i in 0..37u64 {
        let r = issue(&w).await["receipt"].clone();
        assert_eq!(r["log_index"], json!(i), "{r}");
        let cp = open_checkpoint(r["checkpoint"].as_str().unwrap(), &vkey).unwrap();
        let h = proof::leaf_hash(r["leaf"].as_str().unwrap().as_bytes());
        proof::verify_inclusion(&h, i, cp.size, &hashes(&r["inclusion_proof"]), &cp.root)
            .unwrap_or_else(|e| panic!("receipt {i}: {e}"));
        assert_eq!(
            cp.size,
            i + 1,
            "on this quiet log each receipt names its own size"
        );
        roots.push(cp.root);
        leaves.push(h);
    }
    for size in [16u64, 17, 31, 32, 33, 37] {
        for (i, h) in leaves.iter().enumerate().take(size as usize) {
            let (s, p) = get(&w, &format!("/api/v1/log/inclusion?index={i}&size={size}")).await;
            assert_eq!(s, 200, "{p}");
            let p: Value = serde_json::from_str(&p).unwrap();
            proof::verify_inclusion(
                h,
                i as u64,
                size,
                &hashes(&p["proof"]),
                &roots[size as usize],
            )
            .unwrap_or_else(|e| panic!("leaf {i} in {size}: {e}"));
        }
        for old in 1..=size {
            let (s, p) = get(&w, &format!("/api/v1/log/consistency?old={old}&new={size}")).await;
            assert_eq!(s, 200, "{p}");
            let p: Value = serde_json::from_str(&p).unwrap();
            let (a, b) = (&roots[old as usize], &roots[size as usize]);
            proof::verify_consistency(old, size, a, b, &hashes(&p["proof"]))
                .unwrap_or_else(|e| panic!("{old} -> {size}: {e}"));
        }
    }
}
