//! Scenario tests: real licences signed by department certificates from a CA in a temporary
//! directory, then altered, re-chained, aged, revoked and suspended.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use super::facts::*;
use super::memo::*;
use super::parse::*;
use super::report::*;
use super::*;
use crate::crypto::b64url;
use crate::crypto::b64url_decode;
use crate::domain::ids::Uscc;
use crate::licences::id::{LicenceId, LicenceTypeCode};
use crate::licences::sdjwt::{self, Disclosure};
use crate::licences::vc::Signer;
use crate::pki::{generate_department_key, Ca, DepartmentSubject, IssuedCert, Purpose};

mod genuine_and_tampered;
mod parsing_and_memo;
mod time_and_status;

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
