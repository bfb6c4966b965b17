//! Several nodes on one PostgreSQL database behave as one service. A change that a node caches is
//! announced in its own transaction (`storage::notify::changed`, delivered at commit), and every
//! node's [`listen`] task drops what the change made stale, typically within milliseconds.
//!
//! Notices (the payload of `NOTIFY tongban_changes`):
//! - `licence <department> <licence>`: a status changed: that status list and the licence's facts;
//! - `certificates`: a department certificate renewed or revoked: every signer and every licence's
//!   facts (which hold the certificate's revocation time);
//! - `deny`: tokens or grants revoked: the deny list is read again;
//! - `client <id>`: a client removed or changed;
//! - `keys`: signing keys rotated: the key directory is read again.
//!
//! When a notice is missed. PostgreSQL loses notices only with the listening connection; the
//! listener sees that and, once reconnected, treats everything as changed. While it cannot listen
//! at all, the periodic upkeep still holds: the deny list and the key directory are re-read every
//! 2 seconds, licence facts live 2 seconds, status lists, signers and clients 60 seconds.

use std::time::Duration;

use crate::domain::time::now;
use crate::licences::context::Licences;
use crate::storage;
use crate::storage::notify::{Listener, Notice};

/// Listen for notices until the process ends (PostgreSQL only; returns at once on SQLite).
pub async fn listen(state: Licences) {
    let mut failures = 0u32;
    loop {
        let mut listener = match Listener::open(&state.db).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                failures += 1;
                if failures == 1 || failures % 60 == 0 {
                    tracing::warn!(error = %e, "cannot listen for changes from other nodes; retrying every second");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if std::mem::take(&mut failures) > 0 {
            // Whatever happened while we were not listening is unknown.
            everything_changed(&state).await;
        }
        loop {
            match listener.next().await {
                Ok(Notice::Change(payload)) => apply(&state, &payload).await,
                Ok(Notice::Lost) => {
                    tracing::warn!("the change listener lost its connection; reconnecting");
                    everything_changed(&state).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the change listener failed; reconnecting");
                    failures = 1;
                    break;
                }
            }
        }
    }
}

async fn apply(state: &Licences, payload: &str) {
    let mut words = payload.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some("licence"), Some(department), Some(licence)) => {
            state.status_lists.invalidate(department);
            state.licence_facts.invalidate(licence);
        }
        (Some("certificates"), None, None) => {
            state.signers.invalidate_all();
            state.licence_facts.invalidate_all();
        }
        (Some("deny"), None, None) => refresh_deny(state).await,
        (Some("client"), Some(id), None) => state.provider.clients.invalidate(id),
        (Some("keys"), None, None) => reload_keys(state),
        _ => tracing::warn!(notice = payload, "unknown change notice ignored"),
    }
}

async fn everything_changed(state: &Licences) {
    state.status_lists.invalidate_all();
    state.licence_facts.invalidate_all();
    state.signers.invalidate_all();
    state.provider.clients.invalidate_all();
    state.licence_types.invalidate_all();
    state.departments.invalidate_all();
    state.enterprise_names.invalidate_all();
    refresh_deny(state).await;
    reload_keys(state);
}

/// Merge the database's deny list into this node's.
pub async fn refresh_deny(state: &Licences) {
    match storage::grants::denied_since(&state.db, now()).await {
        Ok(rows) => state.provider.deny.refresh(rows, now()),
        Err(e) => tracing::warn!(error = %e, "refreshing the deny list failed"),
    }
}

fn reload_keys(state: &Licences) {
    match state.provider.keys.reload() {
        Ok(()) => tracing::info!("signing keys reloaded"),
        Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
    }
}
