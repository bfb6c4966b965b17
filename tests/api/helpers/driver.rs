//! `Driver`: a cookie-keeping HTTP client that walks the login, enterprise-choice and consent pages.

use super::{form_value, PASSWORD};

/// A cookie-keeping HTTP client that walks the pages as a person would.
pub struct Driver {
    pub http: reqwest::Client,
    pub base: String,
}

/// Where a walk through the pages ended.
#[derive(Debug)]
pub enum Landing {
    /// Redirected to the client with these query parameters.
    Client(Vec<(String, String)>),
    /// Stopped at one of our pages (path, status, body).
    Page(String, u16, String),
}

impl Landing {
    pub fn param(&self, k: &str) -> Option<String> {
        match self {
            Landing::Client(q) => q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            Landing::Page(..) => None,
        }
    }
    pub fn code(&self) -> String {
        self.param("code")
            .unwrap_or_else(|| panic!("no code in {self:?}"))
    }
}

impl Driver {
    fn abs(&self, loc: &str) -> String {
        if loc.starts_with('/') {
            format!("{}{loc}", self.base)
        } else {
            loc.to_owned()
        }
    }

    /// GET `url` and follow redirects while they stay on our pages and need no input.
    pub async fn get(&self, url: &str) -> Landing {
        let mut url = self.abs(url);
        for _ in 0..10 {
            if !url.starts_with(&self.base) {
                let u = url::Url::parse(&url).unwrap();
                let q = u.query_pairs().into_owned().collect();
                return Landing::Client(q);
            }
            let r = self.http.get(&url).send().await.unwrap();
            if r.status().is_redirection() {
                url = self.abs(r.headers()["location"].to_str().unwrap());
                continue;
            }
            let path = url::Url::parse(&url).unwrap().path().to_owned();
            return Landing::Page(path, r.status().as_u16(), r.text().await.unwrap());
        }
        panic!("redirect loop at {url}");
    }

    /// POST a form from the page `html` (its csrf and req are taken from it) and follow on.
    pub async fn submit(&self, action: &str, html: &str, fields: &[(&str, &str)]) -> Landing {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        form.push(("csrf".into(), form_value(html, "csrf").unwrap_or_default()));
        if let Some(req) = form_value(html, "req") {
            form.push(("req".into(), req));
        }
        let r = self
            .http
            .post(self.abs(action))
            .form(&form)
            .send()
            .await
            .unwrap();
        if r.status().is_redirection() {
            return self.get(r.headers()["location"].to_str().unwrap()).await;
        }
        let status = r.status().as_u16();
        Landing::Page(action.to_owned(), status, r.text().await.unwrap())
    }

    /// Continue from a page already shown (`html` at `path`) with the same rules as [`Driver::authorize`].
    pub async fn authorize_from(&self, html: &str, path: &str, acting_for: &str) -> Landing {
        let first = match path {
            "/select" => {
                self.submit("/select", html, &[("acting_for", acting_for)])
                    .await
            }
            "/consent" => {
                self.submit("/consent", html, &[("decision", "allow")])
                    .await
            }
            _ => panic!("unexpected page {path}"),
        };
        match &first {
            Landing::Page(p, 200, html) if p == "/consent" => {
                self.submit("/consent", html, &[("decision", "allow")])
                    .await
            }
            _ => first,
        }
    }

    /// Start at an authorization URL and go through login (if asked), the enterprise choice (`acting_for`:
    /// "" for oneself) and consent (allowed), until the client is redirected to.
    pub async fn authorize(&self, auth_url: &str, username: &str, acting_for: &str) -> Landing {
        let mut landing = self.get(auth_url).await;
        for _ in 0..5 {
            landing = match &landing {
                Landing::Page(p, 200, html) if p == "/login" => {
                    self.submit(
                        "/login",
                        html,
                        &[("username", username), ("password", PASSWORD)],
                    )
                    .await
                }
                Landing::Page(p, 200, html) if p == "/select" => {
                    self.submit("/select", html, &[("acting_for", acting_for)])
                        .await
                }
                Landing::Page(p, 200, html) if p == "/consent" => {
                    self.submit("/consent", html, &[("decision", "allow")])
                        .await
                }
                _ => return landing,
            };
        }
        landing
    }
}
