//! `GET /docs`: the API reference, rendered on the server from `openapi/tongban.yaml` (the same
//! document `/openapi.yaml` serves), so an integrator reads it here with nothing fetched from
//! another host: the operations by tag (method, path, what it does, who may call it, parameters,
//! request body, answers), then the schemas with their properties.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::pages::Ui;
use super::AppState;

/// The document as JSON, read once.
static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_norway::from_str(super::OPENAPI).unwrap_or(Value::Null));

/// The page's view of the document, built once.
static VIEW: LazyLock<Value> = LazyLock::new(|| view(&DOCUMENT));

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Follow a local `$ref` (`#/components/...`), once.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or(v),
        None => v,
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The name a `$ref` to a schema gives, or the schema's type.
fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    match v.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!(
                "array of {}",
                schema_name(v.get("items").unwrap_or(&Value::Null))
            )
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".to_owned(),
    }
}

fn operation(doc: &Value, path: &str, method: &str, op: &Value) -> Value {
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| deref(doc, p))
        .map(|p| {
            json!({
                "name": text(p, "name"), "in": text(p, "in"),
                "required": p.get("required").and_then(Value::as_bool).unwrap_or(false),
                "type": schema_name(p.get("schema").unwrap_or(&Value::Null)),
                "description": text(p, "description"),
            })
        })
        .collect();
    let body = op.get("requestBody").map(|b| {
        let b = deref(doc, b);
        let content = b.get("content").and_then(Value::as_object);
        let (media, schema) = content
            .and_then(|c| c.iter().next())
            .map(|(m, v)| {
                (
                    m.clone(),
                    schema_name(v.get("schema").unwrap_or(&Value::Null)),
                )
            })
            .unwrap_or_default();
        json!({ "media": media, "schema": schema, "description": text(b, "description") })
    });
    let responses: Vec<Value> = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, r)| json!({ "status": status, "description": text(deref(doc, r), "description") }))
        .collect();
    let security: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|req| {
            if req.is_empty() {
                "none".to_owned()
            } else {
                req.iter()
                    .map(|(scheme, scopes)| {
                        let scopes: Vec<&str> = scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        if scopes.is_empty() {
                            scheme.clone()
                        } else {
                            format!("{scheme} ({})", scopes.join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            }
        })
        .collect();
    json!({
        "id": text(op, "operationId"), "method": method.to_uppercase(), "path": path,
        "summary": text(op, "summary"), "description": text(op, "description"),
        "parameters": params, "body": body, "responses": responses, "security": security,
    })
}

fn view(doc: &Value) -> Value {
    let mut by_tag: Map<String, Value> = Map::new();
    let tags: Vec<Value> = doc
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in &tags {
        by_tag.insert(text(t, "name"), json!([]));
    }
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_owned();
            let list = by_tag.entry(tag).or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(operation(doc, path, m, op));
            }
        }
    }
    let groups: Vec<Value> = by_tag
        .into_iter()
        .map(|(name, ops)| {
            let description = tags
                .iter()
                .find(|t| text(t, "name") == name)
                .map(|t| text(t, "description"))
                .unwrap_or_default();
            json!({ "name": name, "description": description, "operations": ops })
        })
        .collect();
    let schemas: Vec<Value> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let properties: Vec<Value> = s
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(p, v)| {
                    json!({
                        "name": p, "type": schema_name(v), "required": required.contains(&p.as_str()),
                        "description": text(v, "description"),
                    })
                })
                .collect();
            json!({ "name": name, "description": text(s, "description"), "properties": properties })
        })
        .collect();
    json!({
        "title": doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("API"),
        "version": doc.pointer("/info/version").and_then(Value::as_str).unwrap_or(""),
        "groups": groups, "schemas": schemas,
    })
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let mut ctx = VIEW.clone();
    ctx["issuer"] = json!(state.issuer);
    ui.render(&state, "docs.html", StatusCode::OK, ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_of_the_document_is_on_the_page() {
        let v = super::view(&super::DOCUMENT);
        let on_page: usize = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["operations"].as_array().unwrap().len())
            .sum();
        assert_eq!(
            on_page,
            super::super::OPENAPI.matches("operationId:").count()
        );
        assert!(!v["schemas"].as_array().unwrap().is_empty());
    }
}
