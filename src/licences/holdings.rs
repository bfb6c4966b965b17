//! What a signed-in person holds: their own licences and those of the enterprises they may act for,
//! the one licence they ask for (if it is theirs), and who read them. Every path by which a person
//! reaches a licence as its holder goes through here, and each requires a proven identity: a
//! claimed one (`identity::proofing`) holds nothing, acts for no enterprise, and sees no reads.

use std::collections::HashMap;
use std::sync::Arc;

use super::access::{self, LicenceView};
use super::catalogue::LicenceType;
use super::context::Licences;
use super::lookup::licence_type;
use super::{departments, verify, LicenceError};
use crate::identity::enterprises::{may, Permission};
use crate::storage::{self, accounts::AccountRow, licences::AccessRow, StorageError};

/// One holder a person sees licences of: themself, or an enterprise.
pub struct Holding {
    pub name: String,
    /// The blind index the holder's licences are filed under.
    pub index: Vec<u8>,
    /// The person is an agent of this enterprise (not its legal representative): what they read of
    /// it goes into its access log.
    pub agent: bool,
}

fn is_agent(e: &crate::storage::enterprises::Actable) -> bool {
    e.role != "legal_representative"
}

fn enterprise_index(ctx: &Licences, uscc: &str) -> Vec<u8> {
    ctx.keys.data().blind_index(&format!("uscc:{uscc}"))
}

/// Is the person's identity proven (so that licences follow it)?
pub fn proven(a: &AccountRow) -> bool {
    crate::identity::proofing::is_proven(a)
}

/// The person themself, then each enterprise they represent or act for now (nothing for a claimed
/// identity).
pub async fn holdings(
    ctx: &Licences,
    a: &AccountRow,
    t: i64,
) -> Result<Vec<Holding>, StorageError> {
    if !proven(a) {
        return Ok(vec![]);
    }
    let mut out = vec![Holding {
        name: a.name.clone(),
        index: a.id_number_index.clone(),
        agent: false,
    }];
    for e in crate::identity::enterprises::actable_by(&ctx.provider.identity, &a.id, t).await? {
        if may(&e, Permission::LicencesRead) {
            out.push(Holding {
                index: enterprise_index(ctx, &e.uscc),
                agent: is_agent(&e),
                name: e.name,
            });
        }
    }
    Ok(out)
}

/// Whose licences a person reaches, and as what.
pub struct Holder {
    /// The blind index the licences are filed under.
    pub index: Vec<u8>,
    /// The person acts as an agent of the enterprise (its access log names them).
    pub agent: bool,
}

/// The licences a person (or, with `as_uscc`, an enterprise) holds, checking that the person may act
/// for the enterprise with permission `need`.
pub async fn holder_of(
    ctx: &Licences,
    a: &AccountRow,
    as_uscc: Option<&str>,
    need: Permission,
    t: i64,
) -> Result<Holder, LicenceError> {
    if !proven(a) {
        return Err(LicenceError::NotProven);
    }
    let Some(uscc) = as_uscc else {
        return Ok(Holder {
            index: a.id_number_index.clone(),
            agent: false,
        });
    };
    let actable = crate::identity::enterprises::actable_by(&ctx.provider.identity, &a.id, t)
        .await
        .map_err(LicenceError::internal)?;
    let Some(e) = actable.iter().find(|e| e.uscc == uscc) else {
        return Err(LicenceError::NotActable);
    };
    if !may(e, need) {
        return Err(LicenceError::NotPermitted(need.as_str()));
    }
    Ok(Holder {
        index: enterprise_index(ctx, uscc),
        agent: is_agent(e),
    })
}

/// A page of the wallet of the person (or, with `as_uscc`, of an enterprise they may read for): an
/// agent's read goes into the enterprise's access log.
pub async fn wallet(
    ctx: &Licences,
    a: &AccountRow,
    as_uscc: Option<&str>,
    type_code: Option<&str>,
    page: i64,
    t: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let h = holder_of(ctx, a, as_uscc, Permission::LicencesRead, t).await?;
    if h.agent {
        let rows = access::wallet_rows(ctx, &h.index, type_code, page).await?;
        return access::read_as_agent(ctx, &h.index, &rows, &a.id, t).await;
    }
    access::wallet(ctx, &h.index, type_code, page).await
}

/// Each holder the person sees, with the first page of their licences.
pub async fn overview(
    ctx: &Licences,
    a: &AccountRow,
    t: i64,
) -> Result<Vec<(Holding, Vec<LicenceView>)>, LicenceError> {
    let mut out = Vec::new();
    for h in holdings(ctx, a, t).await.unwrap_or_default() {
        let list = access::wallet(ctx, &h.index, None, 0).await?;
        out.push((h, list));
    }
    Ok(out)
}

/// The licence `id` if the person may see it (held by them or an enterprise of theirs): one indexed
/// membership check per holder, and only that licence is unsealed.
pub async fn own_licence(ctx: &Licences, a: &AccountRow, id: &str, t: i64) -> Option<LicenceView> {
    let row = storage::licences::get(&ctx.db, id).await.ok().flatten()?;
    for h in holdings(ctx, a, t).await.ok()? {
        if storage::licences::holds(&ctx.db, id, &h.index).await.ok()? {
            if h.agent {
                let read =
                    access::read_as_agent(ctx, &h.index, std::slice::from_ref(&row), &a.id, t);
                return read.await.ok()?.pop();
            }
            return access::view(ctx, &row).await.ok();
        }
    }
    None
}

/// One of the person's licences as its page shows it: checked offline (the holder's own copy), with
/// its type (for field titles) and its issuer's name.
pub struct OwnLicence {
    pub view: LicenceView,
    pub report: verify::Report,
    pub licence_type: Option<Arc<LicenceType>>,
    pub issuer_name: String,
}

/// The licence `id` for its page, if the person may see it.
pub async fn licence_page(
    ctx: &Licences,
    a: &AccountRow,
    id: &str,
    t: i64,
) -> Result<Option<OwnLicence>, LicenceError> {
    let Some(view) = own_licence(ctx, a, id, t).await else {
        return Ok(None);
    };
    // Offline (no repository facts), on the CPU pool.
    let job = {
        let (ctx, licence) = (ctx.clone(), view.licence.clone());
        move || {
            let root = ctx.ca.root_der();
            verify::verify_with(&licence, root, t, None, Some(&ctx.verify_memo))
        }
    };
    let report = ctx.cpu.run(job).await.map_err(LicenceError::internal)?;
    // For labels only: the page renders with field names and no issuer if these cannot be read.
    let licence_type = licence_type(ctx, &view.type_code).await.ok().flatten();
    let issuer_name = match storage::licences::get(&ctx.db, &view.id).await {
        Ok(Some(row)) => departments::department(ctx, &row.issuer_id)
            .await
            .ok()
            .flatten()
            .map(|d| d.name_zh)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Some(OwnLicence {
        view,
        report,
        licence_type,
        issuer_name,
    }))
}

/// What the public check page of a licence shows: nothing personal.
pub struct PublicCheck {
    pub row: storage::licences::LicenceRow,
    pub licence_type: Option<Arc<LicenceType>>,
    pub issuer: Option<storage::departments::DepartmentRow>,
}

/// The licence `id`'s type, issuer, status and dates, for anyone.
pub async fn public_check(ctx: &Licences, id: &str) -> Result<Option<PublicCheck>, LicenceError> {
    let Some(row) = storage::licences::get(&ctx.db, id).await? else {
        return Ok(None);
    };
    let licence_type = licence_type(ctx, &row.type_code).await.ok().flatten();
    let issuer = departments::department(ctx, &row.issuer_id)
        .await
        .ok()
        .flatten();
    Ok(Some(PublicCheck {
        row,
        licence_type,
        issuer,
    }))
}

/// The blind indexes whose reads the person is shown: their own, and each enterprise they represent.
pub async fn logged_indexes(ctx: &Licences, a: &AccountRow) -> Result<Vec<Vec<u8>>, StorageError> {
    if !proven(a) {
        return Ok(vec![]);
    }
    let mut indexes = vec![a.id_number_index.clone()];
    for e in crate::identity::enterprises::represented_by(&ctx.provider.identity, &a.id).await? {
        indexes.push(enterprise_index(ctx, &e.uscc));
    }
    Ok(indexes)
}

/// Reads of the person's (and their represented enterprises') licences by others, newest first.
pub async fn access_log(
    ctx: &Licences,
    a: &AccountRow,
    limit: i64,
) -> Result<Vec<AccessRow>, StorageError> {
    let indexes = logged_indexes(ctx, a).await?;
    storage::licences::access_log(&ctx.db, &indexes, limit).await
}

/// The access log with each reader named: a department by its name, a portal by its client name
/// (the id where the name cannot be read), an agent by their name, each looked up once.
pub async fn access_log_named(
    ctx: &Licences,
    a: &AccountRow,
    limit: i64,
) -> Result<Vec<(AccessRow, String)>, StorageError> {
    let rows = access_log(ctx, a, limit).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let who = match (&r.department_id, &r.client_id) {
            (Some(d), _) => {
                if !names.contains_key(d) {
                    let n = departments::department(ctx, d)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| d.clone(), |x| x.name_zh.clone());
                    names.insert(d.clone(), n);
                }
                names.get(d).cloned().unwrap_or_default()
            }
            (None, Some(c)) => {
                if !names.contains_key(c) {
                    let n = crate::oidc::clients::get(&ctx.provider, c)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| c.clone(), |x| x.config.name.clone());
                    names.insert(c.clone(), n);
                }
                names.get(c).cloned().unwrap_or_default()
            }
            (None, None) => match &r.agent_id {
                Some(agent) => {
                    if !names.contains_key(agent) {
                        let n = crate::identity::accounts::account(&ctx.provider.identity, agent)
                            .await
                            .ok()
                            .flatten()
                            .map_or_else(String::new, |a| a.name);
                        names.insert(agent.clone(), n);
                    }
                    names.get(agent).cloned().unwrap_or_default()
                }
                None => String::new(),
            },
        };
        out.push((r, who));
    }
    Ok(out)
}
