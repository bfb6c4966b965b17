//! What the administrative commands share: the state they act on offline, and printing.

use anyhow::Context;

use crate::config::Config;
use crate::http::AppState;
use crate::startup;

/// The issuer an admin command acts under: the configured one, else the listen address's.
pub(super) fn offline_issuer(config: &Config) -> String {
    if config.issuer.is_empty() {
        format!("http://{}", config.listen)
    } else {
        config.issuer.trim_end_matches('/').to_owned()
    }
}

pub(super) async fn offline_state(config: Config) -> anyhow::Result<AppState> {
    let issuer = offline_issuer(&config);
    startup::build_state(config, issuer, startup::Opening::Existing).await
}

pub(super) fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

pub(super) fn parse_list<T>(
    items: &[String],
    f: impl Fn(&str) -> Option<T>,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    items
        .iter()
        .map(|i| f(i).with_context(|| format!("unknown {what} {i:?}")))
        .collect()
}
