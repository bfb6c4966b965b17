//! `tongban department renew --all`: every department gets new certificates (strict DER, as
//! written since certificates spelled out basicConstraints' default), and licences signed under
//! the old ones keep verifying.

use serde_json::{json, Value};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::licences::{request, world, OTHER_DEPARTMENT};

/// The DER value of a certificate's basicConstraints.
fn basic_constraints(der: &[u8]) -> Vec<u8> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "2.5.29.19")
        .unwrap();
    ext.value.to_vec()
}

#[tokio::test]
async fn renew_all_gives_every_department_new_certificates_and_old_licences_still_verify() {
    let w = world().await;
    let other = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let (s, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    let before = tongban::storage::departments::certs_of(&w.app.state.db, &w.dept.row.id)
        .await
        .unwrap();
    assert_eq!(before.len(), 2);

    let (ok, out, err) = w.app.cli(&["department", "renew", "--all"]).await;
    assert!(ok, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    let renewed = out["departments"].as_array().unwrap();
    assert_eq!(renewed.len(), 2, "{out}");
    for d in [&w.dept.row, &other.row] {
        let entry = renewed
            .iter()
            .find(|r| r["uscc"] == d.uscc.as_str())
            .unwrap();
        let certs = tongban::storage::departments::certs_of(&w.app.state.db, &d.id)
            .await
            .unwrap();
        assert_eq!(certs.len(), 4, "two more for {}", d.uscc);
        for serial in entry["renewed"].as_array().unwrap() {
            let c = certs
                .iter()
                .find(|c| c.serial == serial.as_str().unwrap())
                .unwrap();
            assert_eq!(basic_constraints(&c.cert_der), [0x30, 0x00]);
            assert!(c.revoked_at.is_none());
        }
    }
    // One department by its code: the output it always had.
    let (ok, out, err) = w.app.cli(&["department", "renew", &w.dept.row.uscc]).await;
    assert!(ok, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["renewed"].as_array().unwrap().len(), 2, "{out}");
    let (ok, _, _) = w.app.cli(&["department", "renew"]).await;
    assert!(!ok, "a code or --all is required");

    // The licence signed before the renewal still verifies.
    w.app.state.licences.signers.invalidate_all();
    let r = w
        .app
        .http()
        .post(format!("{}/api/v1/verify", w.app.addr))
        .json(&json!({ "licence": issued["licence"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["verdict"], "valid", "{report}");
}
