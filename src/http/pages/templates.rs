//! The page templates and the message catalogues, compiled into the binary and loaded once.

use std::collections::HashMap;

use serde_json::Value;

const TEMPLATES: [(&str, &str); 24] = [
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "_macros.html",
        include_str!("../../../templates/_macros.html"),
    ),
    ("login.html", include_str!("../../../templates/login.html")),
    (
        "register.html",
        include_str!("../../../templates/register.html"),
    ),
    (
        "select.html",
        include_str!("../../../templates/select.html"),
    ),
    (
        "consent.html",
        include_str!("../../../templates/consent.html"),
    ),
    (
        "account.html",
        include_str!("../../../templates/account.html"),
    ),
    (
        "logout.html",
        include_str!("../../../templates/logout.html"),
    ),
    (
        "logged_out.html",
        include_str!("../../../templates/logged_out.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
    (
        "factor.html",
        include_str!("../../../templates/factor.html"),
    ),
    ("totp.html", include_str!("../../../templates/totp.html")),
    (
        "forgot.html",
        include_str!("../../../templates/forgot.html"),
    ),
    ("reset.html", include_str!("../../../templates/reset.html")),
    (
        "verify_email.html",
        include_str!("../../../templates/verify_email.html"),
    ),
    ("docs.html", include_str!("../../../templates/docs.html")),
    (
        "share_created.html",
        include_str!("../../../templates/share_created.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../../../templates/recovery_codes.html"),
    ),
    (
        "licences.html",
        include_str!("../../../templates/licences.html"),
    ),
    (
        "licence.html",
        include_str!("../../../templates/licence.html"),
    ),
    (
        "licence_check.html",
        include_str!("../../../templates/licence_check.html"),
    ),
    ("share.html", include_str!("../../../templates/share.html")),
    (
        "access_log.html",
        include_str!("../../../templates/access_log.html"),
    ),
    (
        "supervision.html",
        include_str!("../../../templates/supervision.html"),
    ),
];

/// The one stylesheet, served at `/static/tongban.css`.
pub const STYLESHEET: &str = include_str!("../../../templates/static/tongban.css");

/// The templates, ready to render, and the zh-CN and English catalogues.
pub struct Pages {
    pub(super) env: minijinja::Environment<'static>,
    pub(super) catalogs: HashMap<&'static str, Value>,
}

impl Pages {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = minijinja::Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)?;
        }
        let mut catalogs = HashMap::new();
        catalogs.insert(
            "en",
            serde_json::from_str(include_str!("../../../templates/i18n/en.json"))?,
        );
        catalogs.insert(
            "zh-CN",
            serde_json::from_str(include_str!("../../../templates/i18n/zh-CN.json"))?,
        );
        Ok(Self { env, catalogs })
    }
}
