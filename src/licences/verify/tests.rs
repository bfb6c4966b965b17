//! Scenario tests: real licences signed by department certificates from a CA in a temporary
//! directory, then altered, re-chained, aged, revoked and suspended.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use super::*;
use crate::crypto::b64url;
use crate::domain::ids::Uscc;
use crate::licences::id::{LicenceId, LicenceTypeCode};
use crate::licences::sdjwt::{self, Disclosure};
use crate::licences::vc::Signer;
use crate::pki::{generate_department_key, Ca, DepartmentSubject, IssuedCert, Purpose};

const NOW: i64 = 1_750_000_000;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;
const ISS: &str = "https://amr.hangzhou.example.gov.cn/licences";
const OTHER_ISS: &str = "https://gaj.hangzhou.example.gov.cn/licences";
const TYPE: &str = "91350100M000100Y43001";

/// Signed one day after the certificate's start.
const IAT: i64 = NOW + DAY;

struct Fx {
    _dir: TempDir,
    ca: Ca,
}

fn ca(name: &str) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::create(dir.path(), name, NOW).unwrap();
    Fx { _dir: dir, ca }
}

fn uscc() -> Uscc {
    Uscc::parse("91110000802100433B").unwrap()
}

struct Dept {
    cert: IssuedCert,
    signer: Signer,
}

impl Fx {
    /// A department licence-signing certificate for `iss`, valid `[nb, na]`, and its signer.
    fn dept(&self, iss: &str, nb: i64, na: i64) -> Dept {
        let key = generate_department_key().unwrap();
        let u = uscc();
        let subject = DepartmentSubject {
            name: "Hangzhou AMR",
            uscc: &u,
            iss_url: iss,
        };
        let cert = self
            .ca
            .issue_department(&subject, Purpose::LicenceSigning, key.public_key(), nb, na)
            .unwrap();
        let signer = Signer::new(
            cert.serial.clone(),
            key.pkcs8_der(),
            &[cert.der.clone(), self.ca.intermediate_der().to_vec()],
        )
        .unwrap();
        Dept { cert, signer }
    }

    /// [`Fx::dept`] with a certificate encoded as before the DER fix (`cA FALSE` spelled out).
    fn legacy_dept(&self, nb: i64, na: i64) -> Dept {
        let key = generate_department_key().unwrap();
        let u = uscc();
        let subject = DepartmentSubject {
            name: "Hangzhou AMR",
            uscc: &u,
            iss_url: ISS,
        };
        let cert = self
            .ca
            .issue_legacy_department_for_tests(&subject, key.public_key(), nb, na);
        let signer = Signer::new(
            cert.serial.clone(),
            key.pkcs8_der(),
            &[cert.der.clone(), self.ca.intermediate_der().to_vec()],
        )
        .unwrap();
        Dept { cert, signer }
    }

    fn root(&self) -> &[u8] {
        self.ca.root_der()
    }
}

fn jti() -> String {
    let t = LicenceTypeCode::parse(TYPE).unwrap();
    LicenceId::new(&t, &uscc(), &LicenceId::random_serial(), 1)
        .unwrap()
        .as_str()
        .to_owned()
}

fn claims(iss: &str, iat: i64, nbf: i64, exp: Option<i64>) -> Map<String, Value> {
    let mut c = json!({
        "iss": iss,
        "vct": format!("https://licences.example.gov.cn/types/{TYPE}"),
        "jti": jti(),
        "iat": iat,
        "nbf": nbf,
        "status": {"status_list": {"idx": 4242, "uri": "https://licences.example.gov.cn/status/1"}},
        "name": "Example Trading Co.",
        "holders": [{"kind": "enterprise", "id": "91110000802100433B"}],
        "address": "1 Example Road, Hangzhou",
    });
    if let Some(exp) = exp {
        c["exp"] = json!(exp);
    }
    match c {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn sign(d: &Dept, claims: Map<String, Value>) -> String {
    d.signer
        .sign_licence(claims, &["holders", "address"])
        .unwrap()
}

/// A licence signed at `IAT`, valid from `IAT` for two years, by a certificate valid one year.
fn standard(fx: &Fx) -> (Dept, String) {
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let lic = sign(&d, claims(ISS, IAT, IAT, Some(IAT + 2 * YEAR)));
    (d, lic)
}

fn facts() -> RepositoryFacts {
    RepositoryFacts {
        known: true,
        issued_at: IAT,
        status_history: vec![(IAT, 0)],
        cert_revoked_at: None,
        log: vec![],
        ..Default::default()
    }
}

/// [`super::verify`], with the repository's log holding the presented licence's issuance leaf
/// whenever the facts do not say otherwise: the log's own check is tested on its own below.
fn verify(lic: &str, root: &[u8], at: i64, facts: Option<&RepositoryFacts>) -> Report {
    let mut f = facts.cloned();
    if let Some(f) = f.as_mut().filter(|f| f.known && f.log.is_empty()) {
        if let Ok(p) = parse(lic, None) {
            f.log.push((Some(0), expected_leaf(&p)));
        }
    }
    super::verify(lic, root, at, f.as_ref())
}

#[test]
fn a_licence_without_its_issuance_leaf_is_not_in_the_log() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let at = IAT + DAY;
    let r = super::verify(&lic, fx.root(), at, Some(&facts()));
    assert_eq!(r.verdict, Verdict::NotInLog);
    assert_eq!(outcome(&r, TRANSPARENCY_LOG), CheckOutcome::Fail);
    // A leaf recording a different licence body (same identifier) does not count either.
    let mut other = facts();
    let p = parse(&lic, None).unwrap();
    let mut leaf = crate::tlog::leaf::issued_leaf(&p.jti, p.iat, "another.jwt.body");
    leaf.at = p.iat;
    other.log.push((Some(3), leaf.to_bytes()));
    assert_eq!(
        super::verify(&lic, fx.root(), at, Some(&other)).verdict,
        Verdict::NotInLog
    );
    // Queued, not yet sequenced: passes, and says so.
    let mut queued = facts();
    queued.log.push((None, expected_leaf(&p)));
    let r = super::verify(&lic, fx.root(), at, Some(&queued));
    assert_eq!(r.verdict, Verdict::Valid);
    assert!(r.check(TRANSPARENCY_LOG).unwrap().detail.contains("awaits"));
    // Offline the check is skipped.
    let r = super::verify(&lic, fx.root(), at, None);
    assert_eq!(outcome(&r, TRANSPARENCY_LOG), CheckOutcome::Skipped);
}

fn outcome(r: &Report, name: &str) -> CheckOutcome {
    r.check(name).unwrap().outcome
}

/// `(header, payload, signature, disclosures)` of a compact licence.
fn take_apart(lic: &str) -> (Map<String, Value>, Map<String, Value>, String, Vec<String>) {
    let (jwt, ds) = sdjwt::split(lic).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let obj = |s: &str| match serde_json::from_slice(&b64url_decode(s).unwrap()).unwrap() {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    (
        obj(parts[0]),
        obj(parts[1]),
        parts[2].to_owned(),
        ds.into_iter().map(str::to_owned).collect(),
    )
}

fn put_together(
    header: &Map<String, Value>,
    payload_b64: &str,
    sig: &str,
    ds: &[String],
) -> String {
    let jwt = format!(
        "{}.{payload_b64}.{sig}",
        b64url(Value::Object(header.clone()).to_string())
    );
    sdjwt::serialize(&jwt, ds.iter().map(String::as_str))
}

fn payload_b64(lic: &str) -> String {
    lic.split('.').nth(1).unwrap().to_owned()
}

#[test]
fn a_genuine_licence_is_valid_offline_and_online() {
    let fx = ca("Tongban Test");
    let (d, lic) = standard(&fx);

    let r = verify(&lic, fx.root(), IAT + 30 * DAY, None);
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    let names: Vec<&str> = r.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CHECKS);
    for name in [
        FORMAT,
        CERTIFICATE_CHAIN,
        SIGNATURE,
        ISSUER,
        DISCLOSURES,
        VALIDITY_PERIOD,
    ] {
        assert_eq!(outcome(&r, name), CheckOutcome::Pass, "{name}");
    }
    for name in [CERTIFICATE_AT_SIGNING, STATUS, REPOSITORY_RECORD] {
        assert_eq!(outcome(&r, name), CheckOutcome::Skipped, "{name}");
    }
    assert!(r
        .check(CERTIFICATE_CHAIN)
        .unwrap()
        .detail
        .contains(&d.cert.serial));
    assert_eq!(r.issuer.as_deref(), Some(ISS));
    let id = r.licence_id.clone().unwrap();
    assert!(LicenceId::parse(&id).is_ok());
    let claims = r.claims.unwrap();
    assert_eq!(claims["address"], "1 Example Road, Hangzhou");
    assert_eq!(claims["holders"][0]["id"], "91110000802100433B");
    assert_eq!(claims["name"], "Example Trading Co.");
    assert!(!claims.contains_key("_sd") && !claims.contains_key("_sd_alg"));

    let r = verify(&lic, fx.root(), IAT + 30 * DAY, Some(&facts()));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    assert!(
        r.checks.iter().all(|c| c.outcome == CheckOutcome::Pass),
        "{r:#?}"
    );
}

#[test]
fn a_licence_signed_under_a_certificate_from_before_the_der_fix_verifies_after_renewal() {
    let fx = ca("Tongban Test");
    let old = fx.legacy_dept(NOW, NOW + YEAR);
    let old_lic = sign(&old, claims(ISS, IAT, IAT, Some(IAT + 2 * YEAR)));
    let renewed_at = IAT + 10 * DAY;
    let new = fx.dept(ISS, renewed_at, renewed_at + YEAR);
    let new_lic = sign(&new, claims(ISS, renewed_at + DAY, renewed_at + DAY, None));
    let at = renewed_at + 30 * DAY;
    for lic in [&old_lic, &new_lic] {
        let r = verify(lic, fx.root(), at, None);
        assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    }
    let mut f = facts();
    f.issued_at = IAT;
    let r = verify(&old_lic, fx.root(), at, Some(&f));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}

#[test]
fn a_flipped_payload_byte_is_tampering() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let p = payload_b64(&lic);
    let json = String::from_utf8(b64url_decode(&p).unwrap()).unwrap();
    let altered = json.replacen("Example Trading", "Example Tradinh", 1);
    assert_ne!(json, altered);
    let forged = lic.replacen(&p, &b64url(altered), 1);

    let r = verify(&forged, fx.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Fail);
    assert_eq!(outcome(&r, CERTIFICATE_CHAIN), CheckOutcome::Pass);
    assert!(r.claims.is_none(), "no claims from an unverified payload");
}

#[test]
fn a_flipped_signature_byte_is_tampering() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let (h, _, sig, ds) = take_apart(&lic);
    let mut raw = b64url_decode(&sig).unwrap();
    raw[10] ^= 0x01;
    let forged = put_together(&h, &payload_b64(&lic), &b64url(raw), &ds);
    let r = verify(&forged, fx.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered);
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Fail);
}

#[test]
fn a_modified_disclosure_is_tampering() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let (h, _, sig, mut ds) = take_apart(&lic);
    let i = ds
        .iter()
        .position(|d| Disclosure::decode(d).unwrap().name() == "address")
        .unwrap();
    let original = Disclosure::decode(&ds[i]).unwrap();
    let forged_d =
        Disclosure::with_salt(original.salt(), "address", json!("2 Forged Street")).unwrap();
    ds[i] = forged_d.encoded().to_owned();
    let forged = put_together(&h, &payload_b64(&lic), &sig, &ds);

    let r = verify(&forged, fx.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Pass);
    assert_eq!(outcome(&r, DISCLOSURES), CheckOutcome::Fail);
    assert!(r.claims.is_none());
}

#[test]
fn an_x5c_leaf_swapped_for_another_departments_certificate_is_tampering() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let other = fx.dept(OTHER_ISS, NOW, NOW + YEAR);
    let (mut h, _, sig, ds) = take_apart(&lic);
    h["x5c"][0] = json!(STANDARD.encode(&other.cert.der));
    let forged = put_together(&h, &payload_b64(&lic), &sig, &ds);

    let r = verify(&forged, fx.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
    assert_eq!(outcome(&r, CERTIFICATE_CHAIN), CheckOutcome::Pass);
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Fail);
    assert_eq!(outcome(&r, ISSUER), CheckOutcome::Fail);
}

#[test]
fn a_department_signing_in_anothers_name_is_tampering() {
    let fx = ca("Tongban Test");
    let other = fx.dept(OTHER_ISS, NOW, NOW + YEAR);
    let lic = sign(&other, claims(ISS, IAT, IAT, None));
    let r = verify(&lic, fx.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Pass);
    assert_eq!(outcome(&r, ISSUER), CheckOutcome::Fail);
    assert!(r.check(ISSUER).unwrap().detail.contains(OTHER_ISS));
}

#[test]
fn an_altered_intermediate_is_tampering() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let (mut h, _, sig, ds) = take_apart(&lic);
    let mut inter = fx.ca.intermediate_der().to_vec();
    let n = inter.len();
    inter[n - 5] ^= 0x01; // inside the signature value
    h["x5c"][1] = json!(STANDARD.encode(&inter));
    let forged = put_together(&h, &payload_b64(&lic), &sig, &ds);
    let r = verify(&forged, fx.root(), IAT + DAY, None);
    assert!(
        matches!(r.verdict, Verdict::Tampered | Verdict::NotIssuedHere),
        "{r:#?}"
    );
    assert_eq!(outcome(&r, CERTIFICATE_CHAIN), CheckOutcome::Fail);
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Skipped);
}

#[test]
fn a_licence_from_another_ca_is_not_issued_here() {
    let ours = ca("Tongban Test");
    let theirs = ca("Tongban Test");
    let (_, lic) = standard(&theirs);
    let r = verify(&lic, ours.root(), IAT + DAY, None);
    assert_eq!(r.verdict, Verdict::NotIssuedHere, "{r:#?}");
    assert_eq!(outcome(&r, CERTIFICATE_CHAIN), CheckOutcome::Fail);
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Skipped);
    assert_eq!(outcome(&r, ISSUER), CheckOutcome::Skipped);
    assert!(r.claims.is_none());
    assert_eq!(
        Verdict::NotIssuedHere.describe(),
        "not issued by this repository"
    );
}

#[test]
fn the_certificate_is_judged_at_signing_time_not_at_verification_time() {
    let fx = ca("Tongban Test");
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let lic = sign(&d, claims(ISS, IAT, IAT, None));
    let r = verify(&lic, fx.root(), NOW + 3 * YEAR, None);
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}

#[test]
fn signing_after_the_certificate_expired_is_an_invalid_certificate() {
    let fx = ca("Tongban Test");
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let iat = NOW + YEAR + 1;
    let lic = sign(&d, claims(ISS, iat, iat, None));
    let r = verify(&lic, fx.root(), iat + DAY, None);
    assert_eq!(r.verdict, Verdict::InvalidCertificate, "{r:#?}");
    let chain = r.check(CERTIFICATE_CHAIN).unwrap();
    assert_eq!(chain.outcome, CheckOutcome::Fail);
    assert!(
        chain.detail.contains("expired department certificate"),
        "{}",
        chain.detail
    );
    // The chain is genuine: the signature and issuer are still checked with its key.
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Pass);
    assert_eq!(outcome(&r, ISSUER), CheckOutcome::Pass);

    // Before the certificate's start.
    let d = fx.dept(ISS, NOW + DAY, NOW + YEAR);
    let lic = sign(&d, claims(ISS, NOW, NOW, None));
    let r = verify(&lic, fx.root(), NOW + 2 * DAY, None);
    assert_eq!(r.verdict, Verdict::InvalidCertificate, "{r:#?}");
    assert_eq!(outcome(&r, SIGNATURE), CheckOutcome::Pass);

    // A forged signature over an out-of-time certificate is still tampering.
    let (h, _, sig, ds) = take_apart(&lic);
    let p = payload_b64(&lic);
    let json = String::from_utf8(b64url_decode(&p).unwrap()).unwrap();
    let forged = put_together(
        &h,
        &b64url(json.replacen("Example", "Exbmple", 1)),
        &sig,
        &ds,
    );
    let r = verify(&forged, fx.root(), NOW + 2 * DAY, None);
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
}

#[test]
fn a_certificate_revoked_before_signing_invalidates_and_after_signing_does_not() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let at = IAT + 10 * DAY;

    let before = RepositoryFacts {
        cert_revoked_at: Some(IAT - 1),
        ..facts()
    };
    let r = verify(&lic, fx.root(), at, Some(&before));
    assert_eq!(r.verdict, Verdict::InvalidCertificate, "{r:#?}");
    let c = r.check(CERTIFICATE_AT_SIGNING).unwrap();
    assert_eq!(c.outcome, CheckOutcome::Fail);
    assert!(c
        .detail
        .contains("signed after its department certificate was revoked"));

    let same_second = RepositoryFacts {
        cert_revoked_at: Some(IAT),
        ..facts()
    };
    let r = verify(&lic, fx.root(), at, Some(&same_second));
    assert_eq!(r.verdict, Verdict::InvalidCertificate);

    let after = RepositoryFacts {
        cert_revoked_at: Some(IAT + 1),
        ..facts()
    };
    let r = verify(&lic, fx.root(), at, Some(&after));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    assert_eq!(outcome(&r, CERTIFICATE_AT_SIGNING), CheckOutcome::Pass);
}

#[test]
fn status_is_answered_at_the_time_asked_about() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let revoked_at = IAT + 100 * DAY;
    let revoked = RepositoryFacts {
        status_history: vec![(IAT, 0), (revoked_at, 1)],
        ..facts()
    };
    let r = verify(&lic, fx.root(), revoked_at + DAY, Some(&revoked));
    assert_eq!(r.verdict, Verdict::Revoked, "{r:#?}");
    assert_eq!(
        verify(&lic, fx.root(), revoked_at, Some(&revoked)).verdict,
        Verdict::Revoked
    );
    // "Was it valid on date D?", D before the revocation.
    let r = verify(&lic, fx.root(), revoked_at - 1, Some(&revoked));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");

    let (s, l) = (IAT + 10 * DAY, IAT + 20 * DAY);
    let suspended = RepositoryFacts {
        status_history: vec![(IAT, 0), (s, 2), (l, 0)],
        ..facts()
    };
    assert_eq!(
        verify(&lic, fx.root(), s - 1, Some(&suspended)).verdict,
        Verdict::Valid
    );
    let r = verify(&lic, fx.root(), s + DAY, Some(&suspended));
    assert_eq!(r.verdict, Verdict::Suspended, "{r:#?}");
    assert_eq!(outcome(&r, STATUS), CheckOutcome::Fail);
    assert_eq!(
        verify(&lic, fx.root(), l, Some(&suspended)).verdict,
        Verdict::Valid
    );

    // Before the repository's first status event the licence did not exist.
    let early = RepositoryFacts {
        issued_at: IAT + DAY,
        status_history: vec![(IAT + DAY, 0)],
        ..facts()
    };
    let r = verify(&lic, fx.root(), IAT + 1, Some(&early));
    assert_eq!(r.verdict, Verdict::NotYetValid, "{r:#?}");
    assert_eq!(outcome(&r, STATUS), CheckOutcome::Fail);
}

#[test]
fn the_validity_period_is_nbf_inclusive_exp_exclusive() {
    let fx = ca("Tongban Test");
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let (nbf, exp) = (IAT + DAY, IAT + 30 * DAY);
    let lic = sign(&d, claims(ISS, IAT, nbf, Some(exp)));
    let v = |at| verify(&lic, fx.root(), at, None).verdict;
    assert_eq!(v(nbf - 1), Verdict::NotYetValid);
    assert_eq!(v(nbf), Verdict::Valid);
    assert_eq!(v(exp - 1), Verdict::Valid);
    assert_eq!(v(exp), Verdict::Expired);
    let r = verify(&lic, fx.root(), exp + YEAR, None);
    assert_eq!(r.verdict, Verdict::Expired);
    assert_eq!(outcome(&r, VALIDITY_PERIOD), CheckOutcome::Fail);
    assert!(r.claims.is_some(), "an expired licence is still genuine");
}

#[test]
fn a_licence_the_repository_does_not_hold_is_not_issued_here() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let unknown = RepositoryFacts {
        known: false,
        status_history: Vec::new(),
        ..facts()
    };
    let r = verify(&lic, fx.root(), IAT + DAY, Some(&unknown));
    assert_eq!(r.verdict, Verdict::NotIssuedHere, "{r:#?}");
    let c = r.check(REPOSITORY_RECORD).unwrap();
    assert_eq!(c.outcome, CheckOutcome::Fail);
    assert_eq!(c.detail, "the repository holds no such licence");
    assert_eq!(outcome(&r, STATUS), CheckOutcome::Skipped);
}

#[test]
fn a_share_with_chosen_disclosures_is_valid_with_only_those_claims() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let share = sdjwt::select(&lic, &["address"]).unwrap();
    let r = verify(&share, fx.root(), IAT + DAY, Some(&facts()));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    let claims = r.claims.clone().unwrap();
    assert_eq!(claims["address"], "1 Example Road, Hangzhou");
    assert!(!claims.contains_key("holders"));
    assert!(r.check(DISCLOSURES).unwrap().detail.starts_with("1 of 2"));

    // No disclosure at all, with or without the trailing tilde.
    let bare = sdjwt::select(&lic, &[]).unwrap();
    for presented in [bare.as_str(), bare.trim_end_matches('~')] {
        let r = verify(presented, fx.root(), IAT + DAY, None);
        assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
        let claims = r.claims.unwrap();
        assert!(!claims.contains_key("holders") && !claims.contains_key("address"));
    }
}

#[test]
fn unparsable_licences_are_malformed() {
    let fx = ca("Tongban Test");
    let (d, lic) = standard(&fx);
    let (h, payload, sig, ds) = take_apart(&lic);

    let mut cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("not a licence".to_owned(), "garbage"),
        (format!("{lic}{}", "kb.jwt.here"), "key binding JWT"),
        (lic.replacen('.', ".!", 1), "payload not base64url"),
    ];
    let mut wrong_typ = h.clone();
    wrong_typ["typ"] = json!("JWT");
    cases.push((
        put_together(&wrong_typ, &payload_b64(&lic), &sig, &ds),
        "typ",
    ));
    let mut wrong_alg = h.clone();
    wrong_alg["alg"] = json!("none");
    cases.push((
        put_together(&wrong_alg, &payload_b64(&lic), &sig, &ds),
        "alg",
    ));
    let mut no_x5c = h.clone();
    no_x5c["x5c"] = json!([]);
    cases.push((put_together(&no_x5c, &payload_b64(&lic), &sig, &ds), "x5c"));
    let mut crit = h.clone();
    crit.insert("crit".into(), json!(["b64"]));
    cases.push((put_together(&crit, &payload_b64(&lic), &sig, &ds), "crit"));
    for (claim, value) in [("jti", json!("not-an-id")), ("iat", json!("yesterday"))] {
        let mut p = payload.clone();
        p.insert(claim.into(), value);
        let signed = d.signer.sign_jwt(LICENCE_TYP, &Value::Object(p)).unwrap();
        cases.push((
            sdjwt::serialize(&signed, ds.iter().map(String::as_str)),
            claim,
        ));
    }
    let mut p = payload.clone();
    p.remove("nbf");
    let signed = d.signer.sign_jwt(LICENCE_TYP, &Value::Object(p)).unwrap();
    cases.push((format!("{signed}~"), "no nbf"));

    for (presented, why) in &cases {
        let r = verify(presented, fx.root(), IAT + DAY, Some(&facts()));
        assert_eq!(r.verdict, Verdict::Malformed, "{why}: {r:#?}");
        assert_eq!(outcome(&r, FORMAT), CheckOutcome::Fail, "{why}");
        assert_eq!(r.checks.len(), CHECKS.len());
        assert!(r.checks[1..]
            .iter()
            .all(|c| c.outcome == CheckOutcome::Skipped));
        assert!(r.licence_id.is_none() && r.claims.is_none());
        assert!(peek(presented).is_none(), "{why}");
    }
}

#[test]
fn the_verdict_follows_the_precedence_order() {
    let fx = ca("Tongban Test");
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let lic = sign(&d, claims(ISS, IAT, IAT, Some(IAT + DAY)));
    let revoked_suspended = RepositoryFacts {
        status_history: vec![(IAT, 0), (IAT + 10, 2), (IAT + 20, 1)],
        cert_revoked_at: Some(IAT),
        ..facts()
    };
    let at = IAT + 2 * DAY; // also expired
    assert_eq!(
        verify(&lic, fx.root(), at, Some(&revoked_suspended)).verdict,
        Verdict::InvalidCertificate
    );
    let revoked_only = RepositoryFacts {
        cert_revoked_at: None,
        ..revoked_suspended.clone()
    };
    assert_eq!(
        verify(&lic, fx.root(), at, Some(&revoked_only)).verdict,
        Verdict::Revoked
    );
    let suspended_only = RepositoryFacts {
        status_history: vec![(IAT, 0), (IAT + 10, 2)],
        ..revoked_only.clone()
    };
    assert_eq!(
        verify(&lic, fx.root(), at, Some(&suspended_only)).verdict,
        Verdict::Suspended
    );

    // Tampered beats revoked; not-issued-here beats tampered.
    let share = sdjwt::select(&lic, &["address"]).unwrap();
    let (h, _, sig, _) = take_apart(&share);
    let stray = Disclosure::new("address", json!("elsewhere")).unwrap();
    let forged = put_together(&h, &payload_b64(&lic), &sig, &[stray.encoded().to_owned()]);
    let r = verify(&forged, fx.root(), at, Some(&revoked_only));
    assert_eq!(r.verdict, Verdict::Tampered, "{r:#?}");
    let unknown = RepositoryFacts {
        known: false,
        ..revoked_only
    };
    assert_eq!(
        verify(&forged, fx.root(), at, Some(&unknown)).verdict,
        Verdict::NotIssuedHere
    );

    let mut all = vec![
        Verdict::Valid,
        Verdict::NotYetValid,
        Verdict::Expired,
        Verdict::Suspended,
        Verdict::Revoked,
        Verdict::InvalidCertificate,
        Verdict::Tampered,
        Verdict::NotIssuedHere,
        Verdict::Malformed,
    ];
    all.sort();
    assert_eq!(all[0], Verdict::Malformed);
    assert_eq!(all[8], Verdict::Valid);
}

#[test]
fn peek_reads_the_lookup_keys() {
    let fx = ca("Tongban Test");
    let (d, lic) = standard(&fx);
    let p = peek(&lic).unwrap();
    let (_, payload, _, _) = take_apart(&lic);
    assert_eq!(p.licence_id, payload["jti"].as_str().unwrap());
    assert_eq!(p.cert_serial.as_deref(), Some(d.cert.serial.as_str()));
}

#[test]
fn the_report_serializes_in_snake_case() {
    let fx = ca("Tongban Test");
    let theirs = ca("Other");
    let (_, lic) = standard(&theirs);
    let r = verify(&lic, fx.root(), IAT, None);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["verdict"], "not_issued_here");
    assert_eq!(v["at"], IAT);
    assert_eq!(
        v["checks"][0],
        json!({"name": "format", "outcome": "pass", "detail": r.checks[0].detail})
    );
    assert_eq!(v["checks"][1]["outcome"], "fail");
    assert_eq!(v["checks"][3]["outcome"], "skipped");
    assert_eq!(v["claims"], Value::Null);
    assert_eq!(
        serde_json::from_value::<Verdict>(json!("invalid_certificate")).unwrap(),
        Verdict::InvalidCertificate
    );
}

#[test]
fn times_are_written_in_utc() {
    assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc(NOW), "2025-06-15T15:06:40Z");
    assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
    assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    // Extreme attacker-chosen times must not panic.
    let _ = (utc(i64::MAX), utc(i64::MIN));
}

/// With the chain memo (the online verifier's), every answer is the one a full validation gives:
/// a remembered header skips its decoding only when the signing time falls in the chain's window and
/// the root is the same.
#[test]
fn the_chain_memo_answers_as_a_full_validation_does() {
    let fx = ca("Tongban Test");
    let other = ca("Other");
    let d = fx.dept(ISS, NOW, NOW + YEAR);
    let memo = Memo::default();
    let same = |lic: &str, root: &[u8], at: i64| {
        let full = verify_with(lic, root, at, Some(&facts()), None);
        let first = verify_with(lic, root, at, Some(&facts()), Some(&memo));
        let again = verify_with(lic, root, at, Some(&facts()), Some(&memo));
        assert_eq!(first, full);
        assert_eq!(again, full);
        full
    };
    let lic = sign(&d, claims(ISS, IAT, IAT, None));
    let valid = same(&lic, fx.root(), IAT + DAY);
    assert_eq!(outcome(&valid, CERTIFICATE_CHAIN), CheckOutcome::Pass);
    assert!(memo
        .chain(lic.split('.').next().unwrap(), fx.root())
        .is_some());

    // Same header (remembered), altered payload: the signature still fails.
    let (h, _, sig, ds) = take_apart(&lic);
    let json = String::from_utf8(b64url_decode(&payload_b64(&lic)).unwrap()).unwrap();
    let forged = put_together(
        &h,
        &b64url(json.replacen("Example", "Exbmple", 1)),
        &sig,
        &ds,
    );
    assert_eq!(
        same(&forged, fx.root(), IAT + DAY).verdict,
        Verdict::Tampered
    );

    // Same header, signed after the certificate expired: outside the remembered window, so
    // validated in full, and refused.
    let late = sign(&d, claims(ISS, NOW + YEAR + 1, NOW + YEAR + 1, None));
    assert_eq!(
        late.split('.').next(),
        lic.split('.').next(),
        "one header for both"
    );
    let r = same(&late, fx.root(), NOW + YEAR + DAY);
    assert_eq!(r.verdict, Verdict::InvalidCertificate, "{r:#?}");

    // Remembered under one root, presented against another: not issued there.
    let r = same(&lic, other.root(), IAT + DAY);
    assert_eq!(r.verdict, Verdict::NotIssuedHere, "{r:#?}");
}

/// A licence verified once is remembered decoded, by the string presented: presented again, the
/// answer is still the one a full verification gives, whatever the time, the root or the facts;
/// only licences whose signature and disclosures verified are remembered.
#[test]
fn a_remembered_licence_is_judged_afresh_and_only_verified_ones_are_remembered() {
    let fx = ca("Tongban Test");
    let other = ca("Other");
    let (_, lic) = standard(&fx);
    let memo = Memo::default();
    let mut f = facts();
    f.log
        .push((Some(0), expected_leaf(&parse(&lic, None).unwrap())));
    let revoked = RepositoryFacts {
        status_history: vec![(IAT, 0), (IAT + 2 * DAY, 1)],
        ..f.clone()
    };
    let same = |lic: &str, root: &[u8], at: i64, facts: Option<&RepositoryFacts>| {
        let full = verify_with(lic, root, at, facts, None);
        let memoised = verify_with(lic, root, at, facts, Some(&memo));
        assert_eq!(memoised, full);
        full
    };
    let share = sdjwt::select(&lic, &["address"]).unwrap();
    for presented in [lic.as_str(), share.as_str()] {
        assert_eq!(
            same(presented, fx.root(), IAT + DAY, Some(&f)).verdict,
            Verdict::Valid
        );
        let d = memo.licences.get(presented).unwrap();
        assert!(d.chain.is_some(), "with the chain it verified under");
        // Remembered: the time, the facts and the root are still judged each time.
        let r = same(presented, fx.root(), IAT + 3 * DAY, Some(&revoked));
        assert_eq!(r.verdict, Verdict::Revoked);
        let r = same(presented, fx.root(), IAT + 3 * YEAR, Some(&f));
        assert_eq!(r.verdict, Verdict::Expired);
        let r = same(presented, other.root(), IAT + DAY, Some(&f));
        assert_eq!(r.verdict, Verdict::NotIssuedHere);
        assert_eq!(r.claims, None, "no claims without a trusted signature");
        let r = same(presented, fx.root(), IAT + DAY, None);
        assert_eq!(r.verdict, Verdict::Valid);
        // The licence keeps its chain when the header's entry is gone.
        memo.chains.invalidate_all();
        assert_eq!(
            same(presented, fx.root(), IAT + DAY, Some(&f)).verdict,
            Verdict::Valid
        );
    }
    // One string per selection of disclosures: the share revealed only its own.
    let r = same(&share, fx.root(), IAT + DAY, Some(&f));
    assert!(!r.claims.unwrap().contains_key("holders"));

    // Altered (payload, signature, disclosure) or from another root: never remembered.
    let (h, mut payload, sig, mut ds) = take_apart(&lic);
    payload.insert("name".into(), json!("Forged Co."));
    let forged_payload = put_together(
        &h,
        &b64url(serde_json::to_vec(&payload).unwrap()),
        &sig,
        &ds,
    );
    let mut bad_sig = b64url_decode(&sig).unwrap();
    bad_sig[3] ^= 1;
    let forged_sig = put_together(&h, &payload_b64(&lic), &b64url(&bad_sig), &ds);
    ds[0] = b64url(br#"["c2FsdA","address","2 Forged Road"]"#);
    let forged_disclosure = put_together(&h, &payload_b64(&lic), &sig, &ds);
    let foreign = standard(&other).1;
    for presented in [&forged_payload, &forged_sig, &forged_disclosure, &foreign] {
        let r = same(presented, fx.root(), IAT + DAY, Some(&f));
        assert_ne!(r.verdict, Verdict::Valid);
        assert!(memo.licences.get(presented.as_str()).is_none());
    }
}

/// The online verifier's one pass: facts asked for by `jti` once the licence parses; without them,
/// the lookup keys come back instead of a report.
#[test]
fn verify_cached_asks_for_the_facts_by_jti_and_answers_as_verify_with() {
    let fx = ca("Tongban Test");
    let (d, lic) = standard(&fx);
    let memo = Memo::default();
    let at = IAT + DAY;
    for _ in 0..2 {
        // Twice: first with the chain decoded, then remembered.
        let peek = verify_cached(&lic, fx.root(), at, &memo, |_| None).unwrap_err();
        assert_eq!(
            Some(peek.licence_id.as_str()),
            super::peek_id(&lic).as_deref()
        );
        assert_eq!(peek.cert_serial.as_deref(), Some(d.cert.serial.as_str()));
    }
    let mut f = facts();
    f.log
        .push((Some(0), expected_leaf(&parse(&lic, None).unwrap())));
    let f = std::sync::Arc::new(f);
    let mut asked = Vec::new();
    let r = verify_cached(&lic, fx.root(), at, &memo, |id| {
        asked.push(id.to_owned());
        Some(f.clone())
    })
    .unwrap();
    assert_eq!(asked, vec![peek(&lic).unwrap().licence_id]);
    assert_eq!(r, verify_with(&lic, fx.root(), at, Some(&f), None));
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    // Found in the log once, then matched from the facts' memo: the same answer.
    assert!(f.logged.get().is_some());
    let again = verify_cached(&lic, fx.root(), at, &memo, |_| Some(f.clone())).unwrap();
    assert_eq!(again, r);

    let r = verify_cached("not a licence", fx.root(), at, &memo, |_| {
        panic!("no lookup")
    })
    .unwrap();
    assert_eq!(r.verdict, Verdict::Malformed);
}
