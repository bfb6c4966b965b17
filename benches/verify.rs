//! Where a verification's time goes, without HTTP: the raw ES256 check of the licence's signature
//! (ring), `licences::verify::verify_with` on the licence with all its disclosures (chain from the
//! memo, the repository's facts given), and the same plus the JSON of the report. The difference
//! between these and `POST /api/v1/verify` (benches/load/licences.sh) is the HTTP, JSON-in and thread
//! hand-off cost. Run: `cargo bench --bench verify`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde_json::{json, Map};
use tongban::domain::Uscc;
use tongban::licences::id::{LicenceId, LicenceTypeCode};
use tongban::licences::vc::Signer;
use tongban::licences::verify::{verify, verify_with, Memo, RepositoryFacts, Verdict};
use tongban::pki::{generate_department_key, Ca, DepartmentSubject, Purpose};

const NOW: i64 = 1_790_000_000;

fn verification(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::create(dir.path(), "tongban bench", NOW - 86_400).unwrap();
    let uscc = Uscc::parse("91350100M000100Y43").unwrap();
    let key = generate_department_key().unwrap();
    let iss = "https://scjg.fuzhou.gov.example.cn";
    let subject = DepartmentSubject {
        name: "福州市市场监督管理局",
        uscc: &uscc,
        iss_url: iss,
    };
    let cert = ca
        .issue_department(
            &subject,
            Purpose::LicenceSigning,
            key.public_key(),
            NOW - 3600,
            NOW + 86_400 * 365,
        )
        .unwrap();
    let signer = Signer::new(
        cert.serial.clone(),
        key.pkcs8_der(),
        &[cert.der.clone(), ca.intermediate_der().to_vec()],
    )
    .unwrap();
    let t = LicenceTypeCode::parse("91350100M000100Y43001").unwrap();
    let jti = LicenceId::new(&t, &uscc, &LicenceId::random_serial(), 1).unwrap();
    let mut claims = Map::new();
    for (k, v) in [
        ("iss", json!(iss)),
        (
            "vct",
            json!("https://tongban.example/licence-types/91350100M000100Y43001"),
        ),
        ("jti", json!(jti.as_str())),
        ("iat", json!(NOW)),
        ("nbf", json!(NOW)),
        ("exp", json!(NOW + 86_400 * 3650)),
        ("type_name", json!("营业执照")),
        (
            "status",
            json!({ "status_list": { "idx": 123_456, "uri": "https://tongban.example/status-lists/d_x" } }),
        ),
        (
            "holders",
            json!([{ "kind": "enterprise", "id": "9144030071526726XG", "name": "深圳示范科技有限公司" }]),
        ),
        ("company_name", json!("深圳示范科技有限公司")),
        ("legal_representative", json!("林法人")),
        ("address", json!("深圳市南山区")),
    ] {
        claims.insert(k.into(), v);
    }
    let licence = signer
        .sign_licence(claims, &["holders", "address", "legal_representative"])
        .unwrap();
    let memo = Memo::default();
    let issuer_signed = licence.split('~').next().unwrap();
    let leaf = tongban::tlog::leaf::issued_leaf(jti.as_str(), NOW, issuer_signed).to_bytes();
    let facts = RepositoryFacts {
        known: true,
        issued_at: NOW,
        status_history: vec![(NOW, 0)],
        cert_revoked_at: None,
        log: vec![(Some(0), leaf)],
        ..Default::default()
    };
    let root = ca.root_der().to_vec();
    let at = NOW + 60;
    assert_eq!(
        verify_with(&licence, &root, at, Some(&facts), Some(&memo)).verdict,
        Verdict::Valid
    );

    let (input, sig) = issuer_signed.rsplit_once('.').unwrap();
    let sig = tongban::crypto::b64url_decode(sig).unwrap();
    let point = key.public_key().as_bytes().to_vec();
    c.bench_function("raw ES256 verification (ring)", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(black_box(input.as_bytes()), &sig)
                .unwrap()
        })
    });
    c.bench_function("verify (nothing remembered, facts given)", |b| {
        b.iter(|| verify(black_box(&licence), &root, at, Some(&facts)))
    });
    // The licence verified above is remembered: a presentation again costs one signature check.
    c.bench_function(
        "verify_with (chain and licence remembered, facts given)",
        |b| b.iter(|| verify_with(black_box(&licence), &root, at, Some(&facts), Some(&memo))),
    );
    c.bench_function("verify_with + report JSON", |b| {
        b.iter(|| {
            let r = verify_with(black_box(&licence), &root, at, Some(&facts), Some(&memo));
            serde_json::to_vec(&r).unwrap()
        })
    });
}

criterion_group!(benches, verification);
criterion_main!(benches);
