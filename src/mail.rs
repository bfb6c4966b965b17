//! Sending mail (SMTP through `lettre`) and SMS (the configured HTTP gateway): the transport only.
//! What to send, and when, is `identity::notices` (an outbox, delivered in the background).
//!
//! The SMS gateway contract (documented in the README): `POST <sms_gateway_url>` with
//! `Authorization: Bearer <sms_gateway_token>` and JSON `{"to": "+8613800138000", "text": "…",
//! "kind": "phone_code"}`; any 2xx answer means the gateway took the message.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no SMTP relay is configured (smtp_host)")]
    NoSmtp,
    #[error("no SMS gateway is configured (sms_gateway_url)")]
    NoSms,
    #[error("bad address: {0}")]
    Address(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("SMS gateway: {0}")]
    Sms(String),
}

/// The configured ways out.
#[derive(Clone)]
pub struct Transport {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    sms: Option<(url::Url, String)>,
    http: reqwest::Client,
}

impl Transport {
    /// From the configuration; a half-configured relay (a host without a From address, an unknown
    /// `smtp_tls`, a gateway URL that does not parse) is refused with the key to fix.
    pub fn from_config(c: &Config) -> anyhow::Result<Transport> {
        let smtp = if c.smtp_host.is_empty() {
            None
        } else {
            let from: Mailbox = c.smtp_from.parse().map_err(|e| {
                anyhow::anyhow!("smtp_from {:?} is not a mail address: {e}", c.smtp_from)
            })?;
            let builder = match c.smtp_tls.as_str() {
                "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.smtp_host)?,
                "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.smtp_host)?,
                "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.smtp_host),
                other => anyhow::bail!("smtp_tls must be starttls, tls or none, not {other:?}"),
            };
            let mut builder = builder.port(c.smtp_port).timeout(Some(TIMEOUT));
            if !c.smtp_username.is_empty() {
                builder = builder.credentials(Credentials::new(
                    c.smtp_username.clone(),
                    c.smtp_password.clone(),
                ));
            }
            Some((builder.build(), from))
        };
        let sms = if c.sms_gateway_url.is_empty() {
            None
        } else {
            let u = url::Url::parse(&c.sms_gateway_url)
                .map_err(|e| anyhow::anyhow!("sms_gateway_url does not parse: {e}"))?;
            Some((u, c.sms_gateway_token.clone()))
        };
        Ok(Transport {
            smtp,
            sms,
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
        })
    }

    pub fn has_email(&self) -> bool {
        self.smtp.is_some()
    }

    pub fn has_sms(&self) -> bool {
        self.sms.is_some()
    }

    /// Send a plain-text mail.
    pub async fn email(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let (smtp, from) = self.smtp.as_ref().ok_or(MailError::NoSmtp)?;
        let to: Mailbox = to
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Address(e.to_string()))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        smtp.send(message).await.map(|_| ()).map_err(|e| {
            // Never the server's text: a refusal usually quotes the address. Its class and code.
            let class = if e.is_permanent() {
                "permanent failure"
            } else if e.is_transient() {
                "transient failure"
            } else if e.is_timeout() {
                "timeout"
            } else if e.is_tls() {
                "TLS failure"
            } else {
                "connection or protocol failure"
            };
            let code = e.status().map(|c| format!(" {c}")).unwrap_or_default();
            MailError::Smtp(format!("{class}{code}"))
        })
    }

    /// Send a text message through the gateway.
    pub async fn sms(&self, to: &str, kind: &str, text: String) -> Result<(), MailError> {
        let (url, token) = self.sms.as_ref().ok_or(MailError::NoSms)?;
        let r = self
            .http
            .post(url.clone())
            .bearer_auth(token)
            .json(&serde_json::json!({ "to": to, "text": text, "kind": kind }))
            .send()
            .await
            .map_err(|e| MailError::Sms(e.without_url().to_string()))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(MailError::Sms(format!("answered {}", r.status())))
        }
    }
}
