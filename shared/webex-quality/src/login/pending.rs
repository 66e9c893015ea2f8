//! A pending login, kept by the browser: the OAuth `state` and PKCE verifier travel in a cookie
//! sealed with AES-GCM (encrypted and authenticated, by the `cookie` crate's private jar) under a key
//! derived from the server's own secrets. No server keeps anything between `/login` and the
//! callback, so any Lambda instance (or a restarted `serve`) can finish a login any other began.
//!
//! The cookie is `HttpOnly`, `SameSite=Lax` (the callback is a top-level navigation from Webex) and
//! lives 15 minutes; on https it is `Secure` with the `__Host-` prefix (no `Domain`, `Path=/`). The
//! issue time inside the sealed value is checked too: a browser that keeps an expired cookie gains
//! nothing.

use chrono::{DateTime, Utc};
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// How long a started login may take.
pub const LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// What the callback needs to finish a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The OAuth `state` sent to Webex.
    pub state: String,
    /// The PKCE verifier of the authorize request.
    pub verifier: Secret,
    /// When the login began.
    pub issued_at: DateTime<Utc>,
    /// Where a viewer's sign-in goes back to (a path of the site); none for an admin login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// Why a cookie does not hold a usable pending login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// No cookie of that name.
    Missing,
    /// A cookie that was not sealed with this server's key, or was altered.
    Forged,
    /// Sealed here, but older than [`LOGIN_WINDOW`].
    Expired,
}

/// Seals and opens pending-login cookies.
pub struct Sealer {
    key: Key,
    secure: bool,
    /// The cookie's name without the `__Host-` prefix.
    name: &'static str,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer whose key is derived (HKDF-SHA256) from `secrets`; `secure`: the site is served
    /// over https, so the cookie is `Secure` and `__Host-` prefixed. The cookie is `wq-login`.
    #[must_use]
    pub fn new(secrets: &[&Secret], secure: bool) -> Self {
        Self::named("wq-login", secrets, secure)
    }

    /// As [`Sealer::new`], for a cookie called `name` under a key of its own (an admin's login
    /// and a viewer's sign-in in one browser do not overwrite each other, nor open each other's).
    #[must_use]
    pub fn named(name: &'static str, secrets: &[&Secret], secure: bool) -> Self {
        let mut master = Sha256::new();
        master.update(b"webex-quality pending-login cookie v1");
        master.update(name.as_bytes());
        for secret in secrets {
            // Length-prefixed, so that two secrets cannot be shifted into each other.
            master.update((secret.expose().len() as u64).to_be_bytes());
            master.update(secret.expose().as_bytes());
        }
        Self {
            key: Key::derive_from(&master.finalize()),
            secure,
            name,
        }
    }

    /// The cookie's name.
    #[must_use]
    pub fn name(&self) -> String {
        if self.secure {
            format!("__Host-{}", self.name)
        } else {
            self.name.to_owned()
        }
    }

    fn base(&self, value: String) -> cookie::CookieBuilder<'static> {
        Cookie::build((self.name(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
    }

    /// The `Set-Cookie` value that hands `pending` to the browser.
    ///
    /// # Panics
    /// Never: a pending login always serializes.
    #[must_use]
    pub fn seal(&self, pending: &PendingLogin) -> String {
        let value = serde_json::to_string(pending).expect("a pending login serializes");
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(
            self.base(value)
                .max_age(cookie::time::Duration::seconds(LOGIN_WINDOW.num_seconds()))
                .build(),
        );
        jar.get(&self.name())
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// The `Set-Cookie` value that removes the cookie.
    #[must_use]
    pub fn clear(&self) -> String {
        self.base(String::new())
            .max_age(cookie::time::Duration::ZERO)
            .build()
            .to_string()
    }

    /// The pending login in the request's `Cookie` header, checked against `now`.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn open(
        &self,
        cookie_header: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PendingLogin, Unsealed> {
        let sealed = cookie_header
            .into_iter()
            .flat_map(|header| Cookie::split_parse(header.to_owned()))
            .filter_map(Result::ok)
            .find(|c| c.name() == self.name())
            .ok_or(Unsealed::Missing)?;
        let opened = CookieJar::new()
            .private(&self.key)
            .decrypt(sealed)
            .ok_or(Unsealed::Forged)?;
        let pending: PendingLogin =
            serde_json::from_str(opened.value()).map_err(|_| Unsealed::Forged)?;
        let age = now - pending.issued_at;
        if age > LOGIN_WINDOW || age < -chrono::Duration::minutes(1) {
            return Err(Unsealed::Expired);
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(now: DateTime<Utc>) -> PendingLogin {
        PendingLogin {
            state: "state-123".into(),
            verifier: Secret::new("verifier-that-must-stay-hidden"),
            issued_at: now,
            return_to: None,
        }
    }

    fn cookie_header(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    #[test]
    fn a_sealed_login_opens_with_the_same_key_and_hides_its_verifier() {
        let now = Utc::now();
        let sealer = Sealer::new(&[&Secret::new("client-secret")], false);
        let set_cookie = sealer.seal(&pending(now));
        assert!(!set_cookie.contains("verifier-that"), "{set_cookie}");
        assert!(!set_cookie.contains("state-123"), "{set_cookie}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=900"] {
            assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
        }
        let opened = sealer
            .open(
                Some(&cookie_header(&set_cookie)),
                now + chrono::Duration::minutes(14),
            )
            .unwrap();
        assert_eq!(opened, pending(now));
    }

    #[test]
    fn on_https_the_cookie_is_secure_and_host_prefixed() {
        let sealer = Sealer::new(&[&Secret::new("client-secret")], true);
        let set_cookie = sealer.seal(&pending(Utc::now()));
        assert!(set_cookie.starts_with("__Host-wq-login="), "{set_cookie}");
        assert!(set_cookie.contains("Secure"), "{set_cookie}");
        assert!(sealer.clear().contains("Max-Age=0"));
    }

    #[test]
    fn another_key_an_altered_value_or_an_old_cookie_is_refused() {
        let now = Utc::now();
        let sealer = Sealer::new(&[&Secret::new("client-secret")], false);
        let header = cookie_header(&sealer.seal(&pending(now)));
        let other = Sealer::new(&[&Secret::new("another-secret")], false);
        assert_eq!(other.open(Some(&header), now), Err(Unsealed::Forged));
        let mut altered = header.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(sealer.open(Some(&altered), now), Err(Unsealed::Forged));
        assert_eq!(
            sealer.open(Some("wq-login=plain-text"), now),
            Err(Unsealed::Forged)
        );
        assert_eq!(
            sealer.open(Some(&header), now + chrono::Duration::minutes(16)),
            Err(Unsealed::Expired)
        );
        assert_eq!(sealer.open(Some("other=1"), now), Err(Unsealed::Missing));
        assert_eq!(sealer.open(None, now), Err(Unsealed::Missing));
    }
}
