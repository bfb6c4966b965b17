//! Request parameters as OAuth sees them: a list of pairs, where a parameter given twice is an error
//! (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").

use super::error::OAuthError;

#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(urlencoded: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(urlencoded)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The single value of `name`, `None` if absent or empty; an error if repeated.
    pub fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            )));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    /// Every non-empty value of `name` (checkboxes of one name), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.one(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name} is missing")))
    }

    pub fn owned(&self, name: &str) -> Result<Option<String>, OAuthError> {
        Ok(self.one(name)?.map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3&c=");
        assert!(p.one("a").is_err());
        assert_eq!(p.one("b").unwrap(), Some("2"));
        assert_eq!(p.one("c").unwrap(), None);
        assert!(p.required("d").is_err());
    }
}
