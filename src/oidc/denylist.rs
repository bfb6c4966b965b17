//! Revoked access-token handles, held in memory so introspection and userinfo never query the database.
//! Entries come from the `denylist` table: written by this node on revocation (and inserted here at once),
//! reloaded at start and refreshed every 2 seconds, so a revocation made on another node or by the CLI
//! is seen within that interval (see `startup::spawn_background`).

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyKind {
    /// One access token.
    Jti,
    /// Every token of a grant (token family).
    Grant,
    /// Every token of a client, which was removed; the client is unknown from then on.
    Client,
}

impl DenyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Grant => "grant",
            Self::Client => "client",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "jti" => Some(Self::Jti),
            "grant" => Some(Self::Grant),
            "client" => Some(Self::Client),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct DenyList {
    entries: RwLock<HashMap<(DenyKind, String), i64>>,
}

impl DenyList {
    pub fn insert(&self, kind: DenyKind, value: &str, expires_at: i64) {
        if let Ok(mut m) = self.entries.write() {
            m.insert((kind, value.to_owned()), expires_at);
        }
    }

    pub fn contains(&self, kind: DenyKind, value: &str) -> bool {
        // A poisoned lock means a writer panicked mid-insert; fail closed.
        self.entries
            .read()
            .map(|m| m.contains_key(&(kind, value.to_owned())))
            .unwrap_or(true)
    }

    /// How many entries are held (for `/metrics`).
    pub fn len(&self) -> usize {
        self.entries.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Merge the database's view in and drop expired entries. A merge, not a replacement: entries only
    /// ever leave by expiring, and a snapshot read just before a local revocation committed must not
    /// erase it.
    pub fn refresh(&self, rows: Vec<(String, String, i64)>, now: i64) {
        if let Ok(mut m) = self.entries.write() {
            for (k, v, e) in rows {
                if let Some(kind) = DenyKind::parse(&k) {
                    m.insert((kind, v), e);
                }
            }
            m.retain(|_, exp| *exp > now);
        }
    }
}
