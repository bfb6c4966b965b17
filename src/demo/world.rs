//! The demo world, seeded through the paths a real deployment uses:
//!
//! - OAuth clients (the operator's system, two department systems, two portals) with
//!   [`clients::register`], which `tongban client add` calls;
//! - departments and licence types over the administration API (`/api/v1/admin/...`, a
//!   client_credentials token with the `admin` scope);
//! - citizens and the enterprise with [`accounts::register`] and [`enterprises::create`], which
//!   `tongban account add --verified` and `tongban enterprise add` call;
//! - licences over `POST /api/v1/licences`, each with its department system's token.
//!
//! Identifiers are valid (GB 11643 and GB 32100 check characters) but invented.

use anyhow::Context;
use serde_json::{json, Value};

use super::portal::{PortalKind, Setup};
use super::DemoAccount;
use crate::crypto::keys::SigningAlg;
use crate::http::AppState;
use crate::identity::{accounts, enterprises};
use crate::oidc::clients::{self, AuthMethod, ClientConfig, GrantType, SubjectType};

/// The demo accounts' password (printed on the terminal; the demo listens on 127.0.0.1 only).
pub const PASSWORD: &str = "Tongban-Demo-2024";

/// 福州市市场监督管理局: issues business licences and defines their type.
pub const MARKET_REGULATOR: &str = "11350100MB01234565";
/// 福州市鼓楼区民政局: registers marriages.
pub const CIVIL_AFFAIRS: &str = "11350102MB0234567D";
/// 福州示范有限公司, whose legal representative is the demo citizen.
pub const ENTERPRISE: &str = "91350100MA2Y3K4L5R";

/// The enterprise as seeded.
#[derive(Debug, Clone)]
pub struct DemoEnterprise {
    pub name: String,
    pub uscc: String,
    /// Its id at the provider (the value of the "act for" choice).
    pub id: String,
}

/// A licence as issued (the response of `POST /api/v1/licences`).
#[derive(Debug, Clone)]
pub struct IssuedLicence {
    pub id: String,
    pub type_code: String,
    /// The SD-JWT VC with every disclosure.
    pub licence: String,
}

/// What [`seed`] created.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// 张三: signs in at both portals.
    pub citizen: DemoAccount,
    /// 李四: her spouse, the marriage certificate's second holder.
    pub spouse: DemoAccount,
    pub enterprise: DemoEnterprise,
    pub business_licence_type: String,
    pub marriage_certificate_type: String,
    /// The business licence, then the marriage certificate.
    pub licences: Vec<IssuedLicence>,
    pub housing_portal: Setup,
    pub tax_portal: Setup,
    /// The departments' systems: (client id, secret, department name), for `client_credentials`.
    pub department_clients: Vec<(String, String, String)>,
}

/// The business licence (营业执照): defined and issued by the market regulator, held by enterprises.
pub fn business_licence_definition() -> Value {
    json!({
        "code": format!("{MARKET_REGULATOR}001"),
        "name_zh": "营业执照", "name_en": "Business licence",
        "holder_kinds": ["enterprise"],
        "schema": {
            "type": "object",
            "required": ["company_name", "company_type", "legal_representative", "registered_capital", "established", "address"],
            "additionalProperties": false,
            "properties": {
                "company_name": { "type": "string", "minLength": 1, "title": "名称" },
                "company_type": { "type": "string", "title": "类型" },
                "legal_representative": { "type": "string", "title": "法定代表人" },
                "registered_capital": { "type": "string", "title": "注册资本" },
                "established": { "type": "string", "format": "date", "title": "成立日期" },
                "address": { "type": "string", "title": "住所" },
                "business_scope": { "type": "string", "title": "经营范围" }
            }
        },
        "disclosable": ["address", "business_scope", "legal_representative"],
        "issuers": [MARKET_REGULATOR]
    })
}

/// The marriage certificate (结婚证): issued by a civil affairs bureau to both spouses.
pub fn marriage_certificate_definition() -> Value {
    json!({
        "code": format!("{CIVIL_AFFAIRS}001"),
        "name_zh": "结婚证", "name_en": "Marriage certificate",
        "holder_kinds": ["citizen"],
        "max_holders": 2,
        "schema": {
            "type": "object",
            "required": ["registration_date", "certificate_number"],
            "additionalProperties": false,
            "properties": {
                "registration_date": { "type": "string", "format": "date", "title": "登记日期" },
                "certificate_number": { "type": "string", "title": "结婚证字号" }
            }
        },
        "disclosable": ["certificate_number"],
        "issuers": [CIVIL_AFFAIRS]
    })
}

/// A department system: client_credentials only.
fn system_client(name: &str, scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        grant_types: vec![GrantType::ClientCredentials],
        auth_method: AuthMethod::ClientSecretBasic,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        subject_type: SubjectType::Pairwise,
        sector: None,
        id_token_alg: SigningAlg::ES256,
        jwks: None,
        licence_types: vec![],
    }
}

/// A portal on the code flow, with its post-logout and back-channel logout URIs under `base`.
fn portal_client(kind: PortalKind, base: &str, licence_types: Vec<String>) -> ClientConfig {
    ClientConfig {
        name: kind.client_name().into(),
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: vec![format!("{base}/logged-out")],
        backchannel_logout_uri: Some(format!("{base}/backchannel-logout")),
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: AuthMethod::ClientSecretBasic,
        scopes: kind.scopes().iter().map(|s| (*s).to_owned()).collect(),
        subject_type: SubjectType::Pairwise,
        // Each portal is its own sector, so the two see different subjects for the same person.
        sector: Some(kind.sector().into()),
        id_token_alg: kind.id_token_alg(),
        jwks: None,
        licence_types,
    }
}

/// Register a client as `tongban client add` does; returns its secret.
async fn register_client(
    state: &AppState,
    id: &str,
    config: ClientConfig,
    now: i64,
) -> anyhow::Result<String> {
    let (_, secret) = clients::register(&state.db, Some(id.into()), config, now)
        .await
        .with_context(|| format!("registering the client {id}"))?;
    secret.with_context(|| format!("the client {id} got no secret"))
}

/// The provider's public HTTP API, as a department's or operator's system calls it.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client_credentials access token.
    async fn token(&self, client_id: &str, secret: &str) -> anyhow::Result<String> {
        let body = self
            .send(
                self.http
                    .post(format!("{}/token", self.base))
                    .basic_auth(client_id, Some(secret))
                    .form(&[("grant_type", "client_credentials")]),
                "/token",
            )
            .await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("the token response has no access_token")
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        self.send(rb, path).await
    }

    async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let r = rb.send().await.with_context(|| format!("calling {what}"))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{what} answered {status}: {body}");
        Ok(body)
    }
}

/// Seed the world on the running provider `state` (its HTTP API must be serving at `state.issuer`);
/// the portals will serve at `housing_url` and `tax_url`.
pub async fn seed(
    state: &AppState,
    housing_url: &str,
    tax_url: &str,
    now: i64,
) -> anyhow::Result<Seeded> {
    let api = Api {
        // Issuance waits for the sealing round that logs it: well under this.
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        base: state.issuer.clone(),
    };

    // The operator's system, and through it the departments and the licence catalogue.
    let operator = "demo-operator";
    let secret = register_client(
        state,
        operator,
        system_client("演示运维系统 Demo operator system", &["admin"]),
        now,
    )
    .await?;
    let admin = api.token(operator, &secret).await?;
    let mut department_tokens = Vec::new();
    let mut department_clients = Vec::new();
    for (uscc, client_id, name_zh, name_en, iss) in [
        (
            MARKET_REGULATOR,
            "demo-market-regulator",
            "福州市市场监督管理局",
            "Fuzhou Administration for Market Regulation",
            "https://scjg.fuzhou.gov.cn",
        ),
        (
            CIVIL_AFFAIRS,
            "demo-civil-affairs",
            "福州市鼓楼区民政局",
            "Gulou District Civil Affairs Bureau, Fuzhou",
            "https://mzj.gl.fuzhou.gov.cn",
        ),
    ] {
        let secret = register_client(
            state,
            client_id,
            system_client(
                &format!("{name_zh}业务系统 {name_en} system"),
                &["licences:issue", "licences:revoke"],
            ),
            now,
        )
        .await?;
        let dept = json!({ "uscc": uscc, "name_zh": name_zh, "name_en": name_en, "iss": iss, "client_id": client_id });
        api.post("/api/v1/admin/departments", &admin, &dept).await?;
        department_tokens.push(api.token(client_id, &secret).await?);
        department_clients.push((client_id.to_owned(), secret, name_zh.to_owned()));
    }
    let business_licence_type = format!("{MARKET_REGULATOR}001");
    let marriage_certificate_type = format!("{CIVIL_AFFAIRS}001");
    for t in [
        business_licence_definition(),
        marriage_certificate_definition(),
    ] {
        api.post("/api/v1/admin/licence-types", &admin, &t).await?;
    }

    // The people and the enterprise, as registered at a service counter (identity verified).
    let citizen = person(
        state,
        "张三",
        "350102199003070020",
        "zhang.san@example.cn",
        now,
    )
    .await?;
    let spouse = person(state, "李四", "350102198806150011", "li.si@example.cn", now).await?;
    let enterprise_name = "福州示范有限公司";
    let e = enterprises::create(
        &state.identity,
        ENTERPRISE,
        enterprise_name,
        &citizen.0,
        now,
    )
    .await
    .context("registering the demo enterprise")?;

    // The licences, issued by the departments' systems.
    let [market, civil] = &department_tokens[..] else {
        anyhow::bail!("expected two department tokens");
    };
    let business = json!({
        "type_code": business_licence_type,
        "holders": [{ "kind": "enterprise", "id": ENTERPRISE, "name": enterprise_name }],
        "fields": {
            "company_name": enterprise_name,
            "company_type": "有限责任公司（自然人投资或控股）",
            "legal_representative": "张三",
            "registered_capital": "人民币壹佰万元整",
            "established": "2018-05-16",
            "address": "福建省福州市鼓楼区示范路1号",
            "business_scope": "软件开发；信息技术咨询服务"
        },
        "applied_at": now - 3 * 86_400,
    });
    let marriage = json!({
        "type_code": marriage_certificate_type,
        "holders": [
            { "kind": "citizen", "id": "350102199003070020", "name": "张三" },
            { "kind": "citizen", "id": "350102198806150011", "name": "李四" }
        ],
        "fields": { "registration_date": "2019-10-01", "certificate_number": "J350102-2019-001234" },
        "applied_at": now - 86_400,
    });
    let mut licences = Vec::new();
    for (token, request) in [(market, business), (civil, marriage)] {
        let issued = api.post("/api/v1/licences", token, &request).await?;
        let field = |k: &str| {
            issued[k]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the issuance response has no {k}"))
        };
        licences.push(IssuedLicence {
            id: field("id")?,
            type_code: field("type_code")?,
            licence: field("licence")?,
        });
    }

    // The two portals.
    let housing_secret = register_client(
        state,
        "demo-housing-fund",
        portal_client(
            PortalKind::HousingFund,
            housing_url,
            vec![business_licence_type.clone()],
        ),
        now,
    )
    .await?;
    let tax_secret = register_client(
        state,
        "demo-tax",
        portal_client(PortalKind::Tax, tax_url, vec![]),
        now,
    )
    .await?;

    Ok(Seeded {
        citizen: citizen.1,
        spouse: spouse.1,
        enterprise: DemoEnterprise {
            name: enterprise_name.into(),
            uscc: ENTERPRISE.into(),
            id: e.id,
        },
        business_licence_type,
        marriage_certificate_type,
        licences,
        housing_portal: Setup::new(
            PortalKind::HousingFund,
            housing_url,
            "demo-housing-fund",
            housing_secret,
        ),
        tax_portal: Setup::new(PortalKind::Tax, tax_url, "demo-tax", tax_secret),
        department_clients,
    })
}

/// A citizen registered at a counter with a verified identity (level of assurance 3).
async fn person(
    state: &AppState,
    name: &str,
    id_number: &str,
    email: &str,
    now: i64,
) -> anyhow::Result<(String, DemoAccount)> {
    let reg = accounts::Registration {
        name: name.into(),
        id_kind: "resident".into(),
        id_number: id_number.into(),
        email: email.into(),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let proof = crate::identity::proofing::Proof {
        method: crate::identity::proofing::Method::CounterRegistration,
        actor: "operator:demo".into(),
        department_id: None,
        evidence: "demo citizen",
    };
    let id = crate::identity::proofing::register_at_counter(&state.identity, &reg, &proof, now)
        .await
        .with_context(|| format!("registering the demo citizen {name}"))?;
    Ok((
        id,
        DemoAccount {
            name: name.into(),
            username: email.into(),
            password: PASSWORD.into(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ResidentId, Uscc};
    use crate::licences::catalogue::LicenceType;

    #[test]
    fn the_invented_identifiers_are_valid() {
        for u in [MARKET_REGULATOR, CIVIL_AFFAIRS, ENTERPRISE] {
            Uscc::parse(u).unwrap();
        }
        for id in ["350102199003070020", "350102198806150011"] {
            ResidentId::parse(id).unwrap();
        }
        for t in [
            business_licence_definition(),
            marriage_certificate_definition(),
        ] {
            LicenceType::parse(&t.to_string()).unwrap();
        }
    }
}
