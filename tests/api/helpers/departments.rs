//! Departments with their department-system clients, licence types, and system clients' tokens.

use serde_json::Value;
use tongban::oidc::clients::GrantType;

use super::{ClientSpec, TestApp, TestClient};

/// A department with its department-system client (client_credentials, licence scopes).
pub struct TestDepartment {
    pub row: tongban::storage::departments::DepartmentRow,
    pub client: TestClient,
}

impl TestApp {
    pub async fn department(&self, uscc: &str, name: &str) -> TestDepartment {
        let client = self
            .client(ClientSpec {
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                scopes: vec![
                    "licences:issue",
                    "licences:revoke",
                    "licences:query",
                    "licences:verify",
                ],
                ..Default::default()
            })
            .await;
        let iss = format!("https://{}.gov.example.cn", uscc.to_lowercase());
        let n = tongban::licences::departments::NewDepartment {
            uscc,
            name_zh: name,
            name_en: "Test department",
            iss: &iss,
            client_id: Some(&client.id),
        };
        let row = tongban::licences::departments::register(
            &self.state.licences,
            n,
            "system",
            tongban::domain::time::now(),
        )
        .await
        .expect("department");
        TestDepartment { row, client }
    }

    pub async fn licence_type(&self, def: Value) -> String {
        let t = tongban::licences::catalogue::LicenceType::parse(&def.to_string())
            .expect("licence type");
        tongban::licences::registry::register(&self.state.licences, &t, "system", 0)
            .await
            .expect("register type");
        t.code
    }

    /// A client_credentials access token for a department system.
    pub async fn dept_token(&self, d: &TestDepartment) -> String {
        self.client_credentials_token(&d.client).await
    }

    /// A client_credentials access token for any confidential client.
    pub async fn client_credentials_token(&self, c: &TestClient) -> String {
        let (s, t) = self
            .post_form(
                "/token",
                Some((&c.id, c.secret.as_deref().unwrap_or(""))),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(s, 200, "{t}");
        t["access_token"].as_str().unwrap().to_owned()
    }

    /// A system client (client_credentials only) with these scopes, and a token for it.
    pub async fn system(&self, scopes: Vec<&'static str>) -> (TestClient, String) {
        let client = self
            .client(ClientSpec {
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                scopes,
                ..Default::default()
            })
            .await;
        let token = self.client_credentials_token(&client).await;
        (client, token)
    }

    /// POST JSON with a bearer token and extra headers; (status, body, headers).
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut rb = self
            .http()
            .post(format!("{}{path}", self.addr))
            .bearer_auth(token)
            .json(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let (status, h) = (r.status().as_u16(), r.headers().clone());
        (status, r.json().await.unwrap_or(Value::Null), h)
    }
}
