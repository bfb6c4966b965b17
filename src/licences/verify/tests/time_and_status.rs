//! The certificate at the signing time, status at the time asked about, validity periods, the repository's record, shares.

use super::*;

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
