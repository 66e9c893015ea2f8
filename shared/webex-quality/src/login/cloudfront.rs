//! CloudFront signed cookies: what lets a signed-in viewer's browser fetch the private dashboard.
//!
//! CloudFront's documented format, for a custom policy: the policy is JSON with no whitespace,
//! `{"Statement":[{"Resource":"https://host/*","Condition":{"DateLessThan":{"AWS:EpochTime":N}}}]}`;
//! `CloudFront-Policy` is its base64 and `CloudFront-Signature` the base64 of its signature, both
//! with `+`, `=` and `/` replaced by `-`, `_` and `~`; `CloudFront-Key-Pair-Id` names the public key
//! of the distribution's trusted key group. CloudFront accepts RSA 2048 and ECDSA P-256 keys; this
//! uses ECDSA P-256 with SHA-256 (`CloudFront-Hash-Algorithm=SHA256`, a fourth cookie), whose keys
//! are small and whose signatures are not SHA-1's.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use url::Url;

use crate::config::Secret;

/// Signs CloudFront cookies for one dashboard.
pub struct CookieSigner {
    key: EcdsaKeyPair,
    key_id: String,
    /// `https://host/*`.
    resource: String,
}

impl std::fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieSigner")
            .field("key_id", &self.key_id)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// CloudFront's URL-safe base64: standard base64 with `+=/` as `-_~`.
#[must_use]
pub fn cloudfront_base64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

impl CookieSigner {
    /// A signer with the PKCS#8 PEM private key `pem` (ECDSA P-256), the CloudFront public key id
    /// `key_id`, for every page of `dashboard`.
    ///
    /// # Errors
    /// A key that is not a PKCS#8 P-256 private key (the message never quotes it).
    pub fn new(pem: &Secret, key_id: &str, dashboard: &Url) -> Result<Self, String> {
        let body: String = pem
            .expose()
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        if body.is_empty() {
            return Err(
                "the cookie-signing key is not a PKCS#8 PEM (\"-----BEGIN PRIVATE KEY-----\"); convert it with `openssl pkcs8 -topk8 -nocrypt`".into(),
            );
        }
        let der = STANDARD
            .decode(body)
            .map_err(|_| "the cookie-signing key's PEM is not base64".to_owned())?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der).map_err(|_| {
            "the cookie-signing key is not an ECDSA P-256 private key (create one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)".to_owned()
        })?;
        let host = dashboard
            .host_str()
            .ok_or_else(|| "the dashboard address has no host".to_owned())?;
        let resource = match dashboard.port() {
            Some(port) => format!("{}://{host}:{port}/*", dashboard.scheme()),
            None => format!("{}://{host}/*", dashboard.scheme()),
        };
        Ok(Self {
            key,
            key_id: key_id.to_owned(),
            resource,
        })
    }

    /// The custom policy: every page of the dashboard until `expires`, as CloudFront wants it (no
    /// whitespace, `Resource` then `Condition`).
    #[must_use]
    pub fn policy(&self, expires: DateTime<Utc>) -> String {
        // The resource is a URL of ours ("https://host/*"): nothing in it needs JSON escaping,
        // which serde_json does all the same.
        format!(
            "{{\"Statement\":[{{\"Resource\":{},\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{}}}}}}}]}}",
            serde_json::Value::String(self.resource.clone()),
            expires.timestamp()
        )
    }

    /// The four cookies, name and value: `CloudFront-Policy`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id`, `CloudFront-Hash-Algorithm`.
    ///
    /// # Errors
    /// When the signature cannot be made (the system's random source failed).
    pub fn cookies(&self, expires: DateTime<Utc>) -> Result<[(&'static str, String); 4], String> {
        let policy = self.policy(expires);
        let signature = self
            .key
            .sign(&SystemRandom::new(), policy.as_bytes())
            .map_err(|_| "the cookie signature could not be made".to_owned())?;
        Ok([
            ("CloudFront-Policy", cloudfront_base64(policy.as_bytes())),
            (
                "CloudFront-Signature",
                cloudfront_base64(signature.as_ref()),
            ),
            ("CloudFront-Key-Pair-Id", self.key_id.clone()),
            ("CloudFront-Hash-Algorithm", "SHA256".to_owned()),
        ])
    }

    /// The `Set-Cookie` values of [`CookieSigner::cookies`]: for the whole site (`Path=/`), on
    /// https only, out of scripts' reach, sent on top-level navigations, gone with the browser
    /// session or at `expires`, whichever comes first.
    ///
    /// # Errors
    /// As [`CookieSigner::cookies`].
    pub fn set_cookies(
        &self,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<Vec<String>, String> {
        let max_age = (expires - now).num_seconds().max(0);
        Ok(self
            .cookies(expires)?
            .into_iter()
            .map(|(name, value)| {
                format!("{name}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax")
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed P-256 key made for this test (`openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256`), and its public half.
    const KEY: &str = include_str!("../../../../tests/fixtures/cloudfront/test-key.pem");
    const PUBLIC: &str = include_str!("../../../../tests/fixtures/cloudfront/test-key.pub.pem");

    fn signer() -> CookieSigner {
        CookieSigner::new(
            &Secret::new(KEY),
            "K2JCJMDEHXQW5F",
            &Url::parse("https://d111111abcdef8.cloudfront.net").unwrap(),
        )
        .unwrap()
    }

    fn expires() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap() // 2026-01-01T00:00:00Z
    }

    #[test]
    fn the_policy_and_its_encoding_are_cloudfronts_documented_format() {
        let policy = signer().policy(expires());
        assert_eq!(
            policy,
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600}}}]}"#
        );
        let cookies = signer().cookies(expires()).unwrap();
        // The same policy encoded independently: `printf %s "$POLICY" | base64 -w0 | tr '+=/' '-_~'`.
        assert_eq!(
            cookies[0],
            (
                "CloudFront-Policy",
                "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC8qIiwiQ29uZGl0aW9uIjp7IkRhdGVMZXNzVGhhbiI6eyJBV1M6RXBvY2hUaW1lIjoxNzY3MjI1NjAwfX19XX0_".to_owned()
            )
        );
        assert_eq!(
            cookies[2],
            ("CloudFront-Key-Pair-Id", "K2JCJMDEHXQW5F".to_owned())
        );
        assert_eq!(
            cookies[3],
            ("CloudFront-Hash-Algorithm", "SHA256".to_owned())
        );
        for (_, value) in &cookies {
            assert!(!value.contains(['+', '=', '/']), "{value}");
        }
    }

    #[test]
    fn the_signature_verifies_with_the_public_key_in_openssl() {
        let cookies = signer().cookies(expires()).unwrap();
        let signature = STANDARD
            .decode(
                cookies[1]
                    .1
                    .replace('-', "+")
                    .replace('_', "=")
                    .replace('~', "/"),
            )
            .unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy"), signer().policy(expires())).unwrap();
        std::fs::write(dir.join("signature"), &signature).unwrap();
        std::fs::write(dir.join("public.pem"), PUBLIC).unwrap();
        let verify = |policy: &str| {
            std::process::Command::new("openssl")
                .args([
                    "dgst",
                    "-sha256",
                    "-verify",
                    "public.pem",
                    "-signature",
                    "signature",
                    policy,
                ])
                .current_dir(&dir)
                .output()
                .expect("openssl is installed")
        };
        let out = verify("policy");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Another policy (a later expiry) does not verify with this signature.
        std::fs::write(
            dir.join("other"),
            signer().policy(expires() + chrono::Duration::hours(1)),
        )
        .unwrap();
        assert!(!verify("other").status.success());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_cookies_are_secure_http_only_and_end_with_the_policy() {
        let now = expires() - chrono::Duration::hours(8);
        let set = signer().set_cookies(now, expires()).unwrap();
        assert_eq!(set.len(), 4);
        for cookie in &set {
            for attribute in [
                "Path=/",
                "Max-Age=28800",
                "Secure",
                "HttpOnly",
                "SameSite=Lax",
            ] {
                assert!(cookie.contains(attribute), "{attribute}: {cookie}");
            }
        }
    }

    #[test]
    fn a_key_that_is_not_pkcs8_p256_is_refused_without_quoting_it() {
        let dashboard = Url::parse("https://d111111abcdef8.cloudfront.net").unwrap();
        let err = CookieSigner::new(&Secret::new("not a key at all"), "K", &dashboard).unwrap_err();
        assert!(err.contains("PKCS#8"), "{err}");
        let rsa_like = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        let err = CookieSigner::new(&Secret::new(rsa_like), "K", &dashboard).unwrap_err();
        assert!(!err.contains("AAAA"), "{err}");
    }
}
