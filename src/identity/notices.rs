//! What the service tells people by mail and SMS: queued in an outbox in the transaction of what
//! it tells, delivered in the background (`deliver`, run by the start-up's upkeep on every node).
//!
//! A message is rendered at delivery from its kind and the sealed payload (the address, and any
//! link or code) with the texts of `templates/mail/messages.json`, zh-CN then English in one
//! message (an account has no language of its own yet). The payload is sealed with the data key
//! (AES-GCM, context `outbox:<id>`) and dropped once sent; the row stays as the record of what was
//! sent. A message that cannot go is retried with back-off, then given up.

use std::sync::LazyLock;

use serde_json::{json, Value};

use super::context::Identity;
use crate::crypto::random_id;
use crate::mail::{MailError, Transport};
use crate::storage::{self, contacts::NewMessage, StorageError, Tx};

/// The texts, by kind and language.
static MESSAGES: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../templates/mail/messages.json")).unwrap_or(Value::Null)
});

/// Seconds a node holds a claimed message before another may try it.
const LEASE: i64 = 120;
/// Attempts before a message is given up.
const MAX_ATTEMPTS: i64 = 8;

/// A message to queue: `kind` (its texts) to `to` on `channel` (`email` or `sms`), with the link
/// or code in `params`.
pub struct Outgoing<'a> {
    pub account_id: &'a str,
    pub channel: &'a str,
    pub kind: &'a str,
    pub to: &'a str,
    pub params: Value,
}

/// Queue a message in the caller's transaction.
pub async fn queue(
    ctx: &Identity,
    tx: &mut Tx,
    m: Outgoing<'_>,
    now: i64,
) -> Result<(), StorageError> {
    let Outgoing {
        account_id,
        channel,
        kind,
        to,
        params,
    } = m;
    let id = format!("m_{}", random_id());
    let payload = json!({ "to": to, "params": params }).to_string();
    let sealed = ctx
        .keys
        .data()
        .seal_bytes(payload.as_bytes(), &format!("outbox:{id}"));
    let m = NewMessage {
        id: &id,
        account_id: Some(account_id),
        channel,
        kind,
        payload: sealed,
    };
    storage::contacts::enqueue(tx, &m, now).await
}

/// A security notice (`factor_added`, `identity_proven`...): shown on the account page, and
/// mailed to the verified email when there is one (audited as `notice.queued`). In the caller's
/// transaction.
pub async fn notice(
    ctx: &Identity,
    tx: &mut Tx,
    account_id: &str,
    kind: &str,
    now: i64,
) -> Result<(), StorageError> {
    storage::proofing::insert_notice(tx, &format!("n_{}", random_id()), account_id, kind, now)
        .await?;
    let Some(to) = storage::contacts::verified_email(tx, account_id).await? else {
        return Ok(());
    };
    let m = Outgoing {
        account_id,
        channel: "email",
        kind: &format!("notice_{kind}"),
        to: &to,
        params: json!({}),
    };
    queue(ctx, tx, m, now).await?;
    // What happened is audited by its own event; this one records that the person was told.
    crate::audit::record(
        tx,
        now,
        "system",
        crate::audit::Action::NoticeQueued,
        &crate::audit::account(account_id),
        json!({ "kind": kind, "channel": "email" }),
    )
    .await?;
    Ok(())
}

/// Subject and body of a message, both languages.
fn render(kind: &str, params: &Value) -> Option<(String, String)> {
    let m = MESSAGES.get(kind)?;
    let fill = |s: &str| {
        let mut out = s.to_owned();
        if let Some(p) = params.as_object() {
            for (k, v) in p {
                out = out.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
            }
        }
        out
    };
    let part = |lang: &str, field: &str| fill(m.get(lang)?.get(field)?.as_str()?).into();
    let (zs, zb): (Option<String>, Option<String>) =
        (part("zh-CN", "subject"), part("zh-CN", "body"));
    let (es, eb): (Option<String>, Option<String>) = (part("en", "subject"), part("en", "body"));
    let subject = match (zs?, es?) {
        (z, e) if z.is_empty() => e,
        (z, e) => format!("{z} / {e}"),
    };
    Some((subject, format!("{}\n\n——\n\n{}\n", zb?, eb?)))
}

/// Send what is due; returns how many went. Messages for a channel that is not configured wait.
pub async fn deliver(ctx: &Identity, out: &Transport, now: i64) -> Result<usize, StorageError> {
    let mut sent = 0;
    // One message claimed at a time, so each has its whole lease for its own delivery.
    for _ in 0..50 {
        let claimed = storage::contacts::claim_due(&ctx.db, now, LEASE, 1).await?;
        let Some(m) = claimed.into_iter().next() else {
            break;
        };
        let ready = match m.channel.as_str() {
            "email" => out.has_email(),
            "sms" => out.has_sms(),
            _ => false,
        };
        if !ready {
            // Not an attempt: it waits, unclaimed, for the channel to be configured.
            storage::contacts::postpone(&ctx.db, &m.id, now + 60).await?;
            continue;
        }
        let payload = m
            .payload
            .as_deref()
            .and_then(|p| {
                ctx.keys
                    .data()
                    .open_bytes(p, &format!("outbox:{}", m.id))
                    .ok()
            })
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok());
        let Some((to, params)) = payload.and_then(|p| {
            let to = p.get("to")?.as_str()?.to_owned();
            Some((to, p.get("params").cloned().unwrap_or(Value::Null)))
        }) else {
            storage::contacts::not_sent(&ctx.db, &m.id, "payload unreadable", None, now).await?;
            continue;
        };
        let Some((subject, body)) = render(&m.kind, &params) else {
            storage::contacts::not_sent(&ctx.db, &m.id, "unknown kind", None, now).await?;
            continue;
        };
        let result = match m.channel.as_str() {
            "email" => out.email(&to, &subject, body).await,
            _ => out.sms(&to, &m.kind, body).await,
        };
        match result {
            Ok(()) => {
                storage::contacts::sent(&ctx.db, &m.id, now).await?;
                sent += 1;
            }
            Err(e) => {
                // Never the address or the payload in the log: the kind and the transport's error.
                tracing::warn!(kind = %m.kind, error = %redacted(&e), "message not sent");
                let next =
                    (m.attempts + 1 < MAX_ATTEMPTS).then(|| now + 30 * (1 << m.attempts.min(8)));
                storage::contacts::not_sent(&ctx.db, &m.id, &redacted(&e), next, now).await?;
            }
        }
    }
    Ok(sent)
}

/// A transport error without the address it was for.
fn redacted(e: &MailError) -> String {
    match e {
        MailError::Address(_) => "bad address".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_in_both_languages() {
        let kinds = MESSAGES.as_object().expect("the catalogue parses");
        for kind in kinds.keys() {
            let (subject, body) =
                render(kind, &json!({ "link": "https://x/y", "code": "123456" })).expect(kind);
            assert!(!body.contains('{'), "{kind}: a placeholder left: {body}");
            if !kind.ends_with("_sms") && kind != "phone_code" {
                assert!(subject.contains(" / "), "{kind}: {subject}");
            }
        }
    }
}
