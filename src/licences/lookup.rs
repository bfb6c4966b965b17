//! Cached reads the licence layer makes on every call: the department of a client, licence types by
//! code, and the registered names of enterprises holding licences (rows never updated or deleted, so
//! what was found stays true; a miss is not kept).

use std::sync::Arc;

use super::catalogue::{HolderKind, LicenceType};
use super::context::Licences;
use super::request::HolderRef;
use crate::metrics::CacheName;
use crate::storage::{self, departments::DepartmentRow, StorageError};

/// The registered name of a holder, if registered.
pub(super) async fn registered_name(
    ctx: &Licences,
    h: &HolderRef,
    index: &[u8],
) -> Result<Option<String>, StorageError> {
    Ok(match h.kind {
        HolderKind::Citizen => storage::accounts::by_id_index(&ctx.db, index)
            .await?
            .map(|a| a.name),
        HolderKind::Enterprise => {
            let uscc = h.id.trim().to_ascii_uppercase();
            let name = found_or_load(
                ctx,
                CacheName::Enterprises,
                &ctx.enterprise_names,
                &uscc,
                async {
                    let e = storage::enterprises::by_uscc(&ctx.db, &uscc).await?;
                    Ok(e.map(|e| Arc::from(e.name)))
                },
            )
            .await?;
            name.map(|n| n.to_string())
        }
    })
}

/// `cache`'s entry for `key`, else what `load` finds, kept for next time; nothing is kept when
/// `load` finds nothing, so a row added later is found at once. Hits and misses count as `name`.
async fn found_or_load<V: Clone + Send + Sync + 'static>(
    ctx: &Licences,
    name: CacheName,
    cache: &moka::sync::Cache<String, V>,
    key: &str,
    load: impl std::future::Future<Output = Result<Option<V>, StorageError>>,
) -> Result<Option<V>, StorageError> {
    if let Some(v) = ctx.metrics.lookup(name, cache.get(key)) {
        return Ok(Some(v));
    }
    let found = load.await?;
    if let Some(v) = &found {
        cache.insert(key.to_owned(), v.clone());
    }
    Ok(found)
}

/// The department an OAuth client belongs to (a department system's client), if any.
pub async fn department_of_client(
    ctx: &Licences,
    client_id: &str,
) -> Result<Option<Arc<DepartmentRow>>, StorageError> {
    found_or_load(
        ctx,
        CacheName::Departments,
        &ctx.departments,
        client_id,
        async {
            let d = storage::departments::by_client(&ctx.db, client_id).await?;
            Ok(d.map(Arc::new))
        },
    )
    .await
}

pub async fn licence_type(
    ctx: &Licences,
    code: &str,
) -> Result<Option<Arc<LicenceType>>, StorageError> {
    found_or_load(
        ctx,
        CacheName::LicenceTypes,
        &ctx.licence_types,
        code,
        async {
            let Some(def) = storage::licence_types::get(&ctx.db, code).await? else {
                return Ok(None);
            };
            Ok(Some(Arc::new(serde_json::from_str::<LicenceType>(&def)?)))
        },
    )
    .await
}

/// The licence types `codes` by name in the page's language (`en` or zh), in that order; a type that
/// cannot be read is left out.
pub async fn type_names(ctx: &Licences, codes: &[String], lang: &str) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(codes.len());
    for code in codes {
        if let Ok(Some(t)) = licence_type(ctx, code).await {
            let name = if lang == "en" { &t.name_en } else { &t.name_zh };
            out.push((code.clone(), name.clone()));
        }
    }
    out
}

/// A licence type as its `vct` URL publishes it: the definition and the departments that issue it.
pub struct PublishedType {
    pub definition: Arc<LicenceType>,
    pub issuers: Vec<storage::departments::DepartmentRow>,
}

/// The type `code` for its public metadata page, if registered.
pub async fn published_type(
    ctx: &Licences,
    code: &str,
) -> Result<Option<PublishedType>, StorageError> {
    let Some(definition) = licence_type(ctx, code).await? else {
        return Ok(None);
    };
    let mut issuers = Vec::new();
    for uscc in &definition.issuers {
        issuers.extend(storage::departments::by_uscc(&ctx.db, uscc).await?);
    }
    Ok(Some(PublishedType {
        definition,
        issuers,
    }))
}
