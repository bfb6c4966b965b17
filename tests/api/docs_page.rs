//! The API reference page (`/docs`), rendered by the service itself from the OpenAPI document it
//! serves: every operation of the document is on it, in both languages, and the page loads nothing
//! from another host.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_api_reference_page_lists_every_operation_and_fetches_nothing_elsewhere() {
    let app = spawn_app().await;
    let yaml = reqwest::get(format!("{}/openapi.yaml", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
    let ids: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| {
            op.get("operationId")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert!(ids.len() > 20, "{ids:?}");
    for (lang, title) in [("en", "API reference"), ("zh-CN", "接口文档")] {
        let r = reqwest::get(format!("{}/docs?lang={lang}", app.addr))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(html.contains(title), "{lang}");
        for id in &ids {
            assert!(
                html.contains(&format!("id=\"op-{id}\"")),
                "{id} is on the {lang} page"
            );
        }
        assert!(html.contains("id=\"schema-LicenceTypeDefinition\""));
        for attr in ["src=\"http", "href=\"http"] {
            for (at, _) in html.match_indices(attr) {
                let url = &html[at + attr.len() - 4..];
                assert!(
                    url.starts_with(&app.addr),
                    "nothing from another host: {}",
                    &url[..60.min(url.len())]
                );
            }
        }
    }
}
