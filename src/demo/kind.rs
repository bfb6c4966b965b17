//! The two sample portals of `tongban demo`: what each asks the provider for, what its pages say,
//! and what it needs to run (its address and registration).

use serde_json::{json, Value};

use crate::crypto::keys::SigningAlg;

/// Which of the two demo portals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalKind {
    /// 住房公积金: reads the enterprise's business licence with consent.
    HousingFund,
    /// 电子税务局: the person acts for her enterprise.
    Tax,
}

impl PortalKind {
    /// The name registered with the provider (shown on its login and consent pages).
    pub fn client_name(self) -> &'static str {
        match self {
            Self::HousingFund => "福州住房公积金网上办事大厅 Fuzhou Housing Provident Fund",
            Self::Tax => "福州电子税务局 Fuzhou e-Tax",
        }
    }

    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::HousingFund => &["openid", "profile", "enterprise", "licences"],
            Self::Tax => &["openid", "profile", "enterprise"],
        }
    }

    /// The pairwise sector: each portal sees its own subject for the same person.
    pub fn sector(self) -> &'static str {
        match self {
            Self::HousingFund => "housing-fund.demo.tongban",
            Self::Tax => "tax.demo.tongban",
        }
    }

    /// One portal takes ES256 ID tokens, the other RS256.
    pub fn id_token_alg(self) -> SigningAlg {
        match self {
            Self::HousingFund => SigningAlg::ES256,
            Self::Tax => SigningAlg::RS256,
        }
    }

    /// Cookies on 127.0.0.1 are shared across ports, so each portal's cookie has its own name.
    pub(super) fn cookie(self) -> &'static str {
        match self {
            Self::HousingFund => "housing_portal_session",
            Self::Tax => "tax_portal_session",
        }
    }

    /// The purpose (申请事由) stated when reading licences, if the portal reads any.
    pub(super) fn purpose(self) -> Option<&'static str> {
        match self {
            Self::HousingFund => Some("单位住房公积金缴存登记"),
            Self::Tax => None,
        }
    }

    /// The page texts.
    pub(super) fn texts(self) -> Value {
        match self {
            Self::HousingFund => json!({
                "kind": "housing",
                "name_zh": "福州住房公积金网上办事大厅", "name_en": "Fuzhou Housing Provident Fund online services",
                "service_zh": "单位住房公积金缴存登记", "service_en": "Registering an employer for housing-fund contributions",
                "intro_zh": "办理单位缴存登记需要营业执照。使用通办登录、选择您代表的企业并同意后，我们直接从电子证照库读取营业执照，无需上传扫描件。",
                "intro_en": "Registering an employer needs its business licence. Sign in with tongban, choose the enterprise you act for and consent: we read the licence from the licence repository, so there is no scan to upload.",
                "accent": "#0b6e4f",
            }),
            Self::Tax => json!({
                "kind": "tax",
                "name_zh": "福州电子税务局", "name_en": "Fuzhou e-Tax",
                "service_zh": "企业涉税事项办理", "service_en": "Tax matters for enterprises",
                "intro_zh": "使用通办登录，选择您代表的企业，即可为企业办理涉税事项。",
                "intro_en": "Sign in with tongban and choose the enterprise you act for, to handle its tax matters.",
                "accent": "#8c1d18",
            }),
        }
    }
}

/// What a portal needs to run: its kind, address and registration at the provider.
#[derive(Clone)]
pub struct Setup {
    pub kind: PortalKind,
    /// e.g. `http://127.0.0.1:8081`
    pub base: String,
    pub client_id: String,
    client_secret: String,
}

impl Setup {
    pub fn new(kind: PortalKind, base: &str, client_id: &str, client_secret: String) -> Self {
        Self {
            kind,
            base: base.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("kind", &self.kind)
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}
