//! Tests of [`super`].

use super::*;
use serde_json::json;

/// RFC 9901 §4.2.1 / §4.2.3 (draft-ietf-oauth-selective-disclosure-jwt, "Hashing
/// Disclosures"): the disclosure for `family_name: "Möbius"`, written with spaces after the
/// commas, and its SHA-256 digest.
const RFC_DISCLOSURE: &str =
    "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0";
const RFC_DIGEST: &str = "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0";

/// The SD-JWT VC example of draft-ietf-oauth-status-list ("Referenced Token in JOSE"): its
/// payload lists one digest, that of the top-level `address` disclosure (the last one);
/// the four before it are nested inside `address`.
const STATUS_LIST_DRAFT_SD_JWT: &str = concat!(
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb",
    "Ikh2cktYNmZQVjB2OUtfeUNWRkJpTEZIc01heGNEXzExNEVtNlZUOHgxbGciXSwgImlz",
    "cyI6ICJodHRwczovL2V4YW1wbGUuY29tL2lzc3VlciIsICJpYXQiOiAxNjgzMDAwMDAw",
    "LCAiZXhwIjogMTg4MzAwMDAwMCwgInN1YiI6ICI2YzVjMGE0OS1iNTg5LTQzMWQtYmFl",
    "Ny0yMTkxMjJhOWVjMmMiLCAic3RhdHVzIjogeyJzdGF0dXNfbGlzdCI6IHsiaWR4Ijog",
    "MCwgInVyaSI6ICJodHRwczovL2V4YW1wbGUuY29tL3N0YXR1c2xpc3RzLzEifX0sICJf",
    "c2RfYWxnIjogInNoYS0yNTYifQ.-kgS-R-Z4DEDlqb8kb6381_gHHNatsoF1fcVKZk3M",
    "06CrnV8F8k9d2w2V_YAOvgcb0f11FqDFezXBXH30d4vcw~WyIyR0xDNDJzS1F2ZUNmR2",
    "ZyeU5STjl3IiwgInN0cmVldF9hZGRyZXNzIiwgIlNjaHVsc3RyLiAxMiJd~WyJlbHVWN",
    "U9nM2dTTklJOEVZbnN4QV9BIiwgImxvY2FsaXR5IiwgIlNjaHVscGZvcnRhIl0~WyI2S",
    "Wo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInJlZ2lvbiIsICJTYWNoc2VuLUFuaGFsdCJd~",
    "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgImNvdW50cnkiLCAiREUiXQ~WyJRZ19PN",
    "jR6cUF4ZTQxMmExMDhpcm9BIiwgImFkZHJlc3MiLCB7Il9zZCI6IFsiNnZoOWJxLXpTN",
    "EdLTV83R3BnZ1ZiWXp6dTZvT0dYcm1OVkdQSFA3NVVkMCIsICI5Z2pWdVh0ZEZST0NnU",
    "nJ0TmNHVVhtRjY1cmRlemlfNkVyX2o3NmttWXlNIiwgIktVUkRQaDRaQzE5LTN0aXotR",
    "GYzOVY4ZWlkeTFvVjNhM0gxRGEyTjBnODgiLCAiV045cjlkQ0JKOEhUQ3NTMmpLQVN4V",
    "GpFeVc1bTV4NjVfWl8ycm8yamZYTSJdfV0~",
);

fn payload_of(jwt: &str) -> Map<String, Value> {
    let body = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64url_decode(body).unwrap()).unwrap()
}

/// A structurally valid JWT around `payload`, with a dummy signature: signing is `pki`'s job.
fn fake_jwt(payload: &Map<String, Value>) -> String {
    let header = b64url(r#"{"alg":"ES256","typ":"dc+sd-jwt"}"#);
    format!(
        "{header}.{}.c2ln",
        b64url(Value::Object(payload.clone()).to_string())
    )
}

fn licence_claims() -> Map<String, Value> {
    json!({
        "iss": "https://scjg.example.gov.cn",
        "vct": "https://tongban.example.gov.cn/types/91350100M000100Y43001",
        "jti": "1.2.156.3005.2.91350100M000100Y43001.91110000802100433B.K7Q2M9X4T1B8D3F6H5J0.001.B",
        "holder_uscc": "91310000775785552L",
        "holder_name": "上海某某有限公司",
        "registered_capital": 1000000,
        "scope": ["软件开发", "信息技术咨询"],
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn rfc_disclosure_decodes_and_hashes_as_published() {
    let d = Disclosure::decode(RFC_DISCLOSURE).unwrap();
    assert_eq!(d.salt(), "_26bc4LT-ac6q2KI6cBW5es");
    assert_eq!(d.name(), "family_name");
    assert_eq!(d.value(), &json!("Möbius"));
    assert_eq!(d.digest(), RFC_DIGEST);
    assert_eq!(digest(RFC_DISCLOSURE), RFC_DIGEST);
    // Our encoder writes compact JSON: same content, different bytes, different digest.
    let ours =
        Disclosure::with_salt("_26bc4LT-ac6q2KI6cBW5es", "family_name", json!("Möbius")).unwrap();
    assert_eq!(
        b64url_decode(ours.encoded()).unwrap(),
        r#"["_26bc4LT-ac6q2KI6cBW5es","family_name","Möbius"]"#.as_bytes()
    );
    assert_ne!(ours.digest(), RFC_DIGEST);
    assert_eq!(Disclosure::decode(ours.encoded()).unwrap(), ours);
}

#[test]
fn status_list_draft_example_reveals_its_top_level_disclosure() {
    let (jwt, disclosures) = split(STATUS_LIST_DRAFT_SD_JWT).unwrap();
    assert_eq!(disclosures.len(), 5);
    let payload = payload_of(jwt);
    assert_eq!(
        digest(disclosures[4]),
        "HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"
    );
    let share = select(STATUS_LIST_DRAFT_SD_JWT, &["address"]).unwrap();
    let (_, kept) = split(&share).unwrap();
    assert_eq!(kept, vec![disclosures[4]]);
    let revealed = reveal(&payload, &kept).unwrap();
    assert_eq!(revealed["iss"], json!("https://example.com/issuer"));
    assert_eq!(revealed["address"]["_sd"].as_array().unwrap().len(), 4);
    assert!(!revealed.contains_key("_sd") && !revealed.contains_key("_sd_alg"));
    // Nested disclosures are outside this module's scope: refused, not silently ignored.
    assert_eq!(
        reveal(&payload, &disclosures),
        Err(SdError::UnknownDisclosure)
    );
}

#[test]
fn round_trip() {
    let claims = licence_claims();
    let disclosable = [
        "holder_uscc",
        "holder_name",
        "registered_capital",
        "scope",
        "absent",
    ];
    let (payload, disclosures) = conceal(claims.clone(), &disclosable).unwrap();
    assert_eq!(disclosures.len(), 4);
    assert!(!payload.contains_key("holder_name"));
    assert_eq!(payload["_sd_alg"], json!("sha-256"));
    let sd: Vec<&str> = payload["_sd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sorted = sd.clone();
    sorted.sort();
    assert_eq!(sd, sorted);
    for d in &disclosures {
        assert!(sd.contains(&d.digest().as_str()));
        assert_eq!(b64url_decode(d.salt()).unwrap().len(), 16);
    }
    let sd_jwt = serialize(
        &fake_jwt(&payload),
        disclosures.iter().map(Disclosure::encoded),
    );
    assert!(sd_jwt.ends_with('~'));
    let (jwt, encoded) = split(&sd_jwt).unwrap();
    assert_eq!(reveal(&payload_of(jwt), &encoded).unwrap(), claims);
    // Nothing disclosed: only the plain claims remain.
    let bare = reveal(&payload, &[]).unwrap();
    assert_eq!(bare.len(), 3);
    assert!(bare.contains_key("jti"));
}

#[test]
fn salts_are_fresh() {
    let a = Disclosure::new("x", json!(1)).unwrap();
    let b = Disclosure::new("x", json!(1)).unwrap();
    assert_ne!(a.salt(), b.salt());
    assert_ne!(a.digest(), b.digest());
}

#[test]
fn a_tampered_disclosure_is_refused() {
    let (payload, disclosures) = conceal(licence_claims(), &["holder_name"]).unwrap();
    let original = &disclosures[0];
    let forged =
        Disclosure::with_salt(original.salt(), "holder_name", json!("另一家公司")).unwrap();
    assert_eq!(
        reveal(&payload, &[forged.encoded()]),
        Err(SdError::UnknownDisclosure)
    );
    // Re-encoding the same content with other spacing changes the digest too.
    let respaced = b64url(format!(
        "[{:?}, \"holder_name\", {}]",
        original.salt(),
        original.value()
    ));
    assert!(Disclosure::decode(&respaced).is_ok());
    assert_eq!(
        reveal(&payload, &[respaced.as_str()]),
        Err(SdError::UnknownDisclosure)
    );
}

#[test]
fn a_disclosure_not_in_sd_is_refused() {
    let (payload, _) = conceal(licence_claims(), &["holder_name"]).unwrap();
    let extra = Disclosure::new("holder_uscc", json!("9144030071526726XG")).unwrap();
    assert_eq!(
        reveal(&payload, &[extra.encoded()]),
        Err(SdError::UnknownDisclosure)
    );
}

#[test]
fn duplicates_and_collisions_are_refused() {
    let (mut payload, disclosures) = conceal(licence_claims(), &["holder_name"]).unwrap();
    let d = disclosures[0].encoded();
    assert_eq!(reveal(&payload, &[d, d]), Err(SdError::DuplicateDisclosure));
    payload.insert("holder_name".into(), json!("plain"));
    assert_eq!(
        reveal(&payload, &[d]),
        Err(SdError::ClaimCollision("holder_name".into()))
    );
    let digest = disclosures[0].digest();
    payload.insert("_sd".into(), json!([digest, digest]));
    assert_eq!(reveal(&payload, &[]), Err(SdError::MalformedDigests));
    payload.insert("_sd".into(), json!("x"));
    assert_eq!(reveal(&payload, &[]), Err(SdError::MalformedDigests));
    payload.insert("_sd".into(), json!([]));
    payload.insert("_sd_alg".into(), json!("sha-512"));
    assert_eq!(
        reveal(&payload, &[]),
        Err(SdError::UnsupportedAlg("sha-512".into()))
    );
}

#[test]
fn malformed_and_reserved_disclosures_are_refused() {
    let (payload, _) = conceal(licence_claims(), &[]).unwrap();
    for (raw, want) in [
        ("not base64!", SdError::MalformedDisclosure),
        (&*b64url("{}"), SdError::MalformedDisclosure),
        (&*b64url(r#"["s","n"]"#), SdError::ArrayElementDisclosure),
        (&*b64url(r#"["s",1,2]"#), SdError::MalformedDisclosure),
        (&*b64url(r#"["s","n",1,2]"#), SdError::MalformedDisclosure),
        (
            &*b64url(r#"["s","_sd",[]]"#),
            SdError::ReservedClaimName("_sd".into()),
        ),
        (
            &*b64url(r#"["s","...",1]"#),
            SdError::ReservedClaimName("...".into()),
        ),
    ] {
        assert_eq!(reveal(&payload, &[raw]), Err(want), "{raw}");
    }
    let mut claims = licence_claims();
    claims.insert("_sd".into(), json!([]));
    assert_eq!(
        conceal(claims, &["holder_name"]).unwrap_err(),
        SdError::ReservedClaimName("_sd".into())
    );
}

#[test]
fn split_checks_the_shape() {
    let jwt = "aGVhZA.Ym9keQ.c2ln";
    assert_eq!(split(&format!("{jwt}~")).unwrap(), (jwt, vec![]));
    assert_eq!(
        split(&format!("{jwt}~a~b~")).unwrap(),
        (jwt, vec!["a", "b"])
    );
    assert_eq!(split(jwt), Err(SdError::Serialization));
    assert_eq!(
        split(&format!("{jwt}~a")),
        Err(SdError::KeyBindingUnsupported)
    );
    assert_eq!(split(&format!("{jwt}~a~~")), Err(SdError::Serialization));
    assert_eq!(split("a.b~"), Err(SdError::Serialization));
    assert_eq!(split("~a~"), Err(SdError::Serialization));
}

#[test]
fn select_keeps_only_the_named_claims() {
    let (payload, disclosures) =
        conceal(licence_claims(), &["holder_uscc", "holder_name", "scope"]).unwrap();
    let sd_jwt = serialize(
        &fake_jwt(&payload),
        disclosures.iter().map(Disclosure::encoded),
    );
    let share = select(&sd_jwt, &["holder_name"]).unwrap();
    let (jwt, kept) = split(&share).unwrap();
    assert_eq!(kept.len(), 1);
    let revealed = reveal(&payload_of(jwt), &kept).unwrap();
    assert_eq!(revealed["holder_name"], json!("上海某某有限公司"));
    assert!(!revealed.contains_key("holder_uscc") && !revealed.contains_key("scope"));
    assert!(share.starts_with(jwt) && share.ends_with('~'));
    let none = select(&sd_jwt, &[]).unwrap();
    assert_eq!(none, format!("{jwt}~"));
}

#[test]
fn debug_hides_values_and_salts() {
    let d = Disclosure::with_salt("SALT", "holder_name", json!("张三")).unwrap();
    let shown = format!("{d:?}");
    assert!(shown.contains("holder_name"));
    assert!(!shown.contains("张三") && !shown.contains("SALT"));
}
