//! Unparsable licences, the verdict's precedence, the report's form, and what the online verifier remembers.

use super::*;

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
            super::super::peek_id(&lic).as_deref()
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

#[test]
fn every_verdict_is_listed_once_in_order_of_precedence() {
    for (i, v) in Verdict::ALL.iter().enumerate() {
        assert_eq!(*v as usize, i, "{v:?}");
    }
    assert_eq!(Verdict::ALL.last(), Some(&Verdict::Valid));
}
