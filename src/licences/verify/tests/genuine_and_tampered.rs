//! Genuine licences, altered ones, and licences from elsewhere.

use super::*;

#[test]
fn a_licence_without_its_issuance_leaf_is_not_in_the_log() {
    let fx = ca("Tongban Test");
    let (_, lic) = standard(&fx);
    let at = IAT + DAY;
    let r = super::super::verify(&lic, fx.root(), at, Some(&facts()));
    assert_eq!(r.verdict, Verdict::NotInLog);
    assert_eq!(outcome(&r, TRANSPARENCY_LOG), CheckOutcome::Fail);
    // A leaf recording a different licence body (same identifier) does not count either.
    let mut other = facts();
    let p = parse(&lic, None).unwrap();
    let mut leaf = crate::tlog::leaf::issued_leaf(&p.jti, p.iat, "another.jwt.body");
    leaf.at = p.iat;
    other.log.push((Some(3), leaf.to_bytes()));
    assert_eq!(
        super::super::verify(&lic, fx.root(), at, Some(&other)).verdict,
        Verdict::NotInLog
    );
    // Queued, not yet sequenced: passes, and says so.
    let mut queued = facts();
    queued.log.push((None, expected_leaf(&p)));
    let r = super::super::verify(&lic, fx.root(), at, Some(&queued));
    assert_eq!(r.verdict, Verdict::Valid);
    assert!(r.check(TRANSPARENCY_LOG).unwrap().detail.contains("awaits"));
    // Offline the check is skipped.
    let r = super::super::verify(&lic, fx.root(), at, None);
    assert_eq!(outcome(&r, TRANSPARENCY_LOG), CheckOutcome::Skipped);
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
