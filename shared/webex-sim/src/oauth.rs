//! `/v1/authorize`, `/v1/access_token`: the OAuth integration as Webex runs it.
//!
//! Codes are single-use and short-lived, PKCE is verified when the authorize request carried a
//! challenge, access tokens expire, every refresh rotates the refresh token (the old one stops working)
//! while keeping its original expiry, and any expired, revoked or reused grant gets `invalid_grant`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::Digest;
use url::Url;

use crate::faults::TrackingId;
use crate::{Identity, SimState};

/// What the simulator remembers of an authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    redirect_uri: String,
    scopes: Vec<String>,
    challenge: Option<(String, String)>,
    expires_at: DateTime<Utc>,
    used: bool,
    /// Who approved the authorize request.
    identity: Identity,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// Whose token it is (what `/people/me` answers).
    pub identity: Identity,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    revoked: bool,
    identity: Identity,
}

/// Everything OAuth keeps.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
}

impl Grants {
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        for grant in self.refresh.values_mut() {
            grant.revoked = true;
        }
    }

    pub(crate) fn expire_access_tokens(&mut self, now: DateTime<Utc>) {
        for grant in self.access.values_mut() {
            grant.expires_at = grant.expires_at.min(now);
        }
    }
}

pub(crate) fn random_token(prefix: &str) -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}-{a}{b}"))
}

fn oauth_error(status: StatusCode, error: &str, description: &str, tracking_id: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description, "trackingID": tracking_id});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn redirect(mut to: Url, pairs: &[(&str, &str)]) -> Response {
    to.query_pairs_mut().extend_pairs(pairs);
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(to.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `GET /v1/authorize`: approves as the organisation's admin, or as the person a test chose with
/// [`crate::SimHandle::authorize_next_as`] (or declines on demand), and redirects.
pub(crate) async fn authorize(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != state.config.client_id {
        return crate::webex_error(StatusCode::BAD_REQUEST, "Unknown client_id.", &tracking_id);
    }
    let Ok(redirect_uri) = Url::parse(get("redirect_uri")) else {
        return crate::webex_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri is missing or not a URL.",
            &tracking_id,
        );
    };
    let state_param = get("state");
    let mut keep = vec![];
    if !state_param.is_empty() {
        keep.push(("state", state_param));
    }
    if get("response_type") != "code" {
        return redirect(
            redirect_uri,
            &[&[("error", "unsupported_response_type")], keep.as_slice()].concat(),
        );
    }
    let scopes: Vec<String> = get("scope").split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !state.config.scopes.contains(s)) {
        return redirect(
            redirect_uri,
            &[&[("error", "invalid_scope")], keep.as_slice()].concat(),
        );
    }
    if state
        .deny_next_authorization
        .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        return redirect(
            redirect_uri,
            &[&[("error", "access_denied")], keep.as_slice()].concat(),
        );
    }
    let challenge = match (params.get("code_challenge"), get("code_challenge_method")) {
        (None, _) => None,
        (Some(c), "S256" | "") => Some((c.clone(), "S256".to_owned())),
        (Some(c), "plain") => Some((c.clone(), "plain".to_owned())),
        (Some(_), _) => {
            return redirect(
                redirect_uri,
                &[&[("error", "invalid_request")], keep.as_slice()].concat(),
            );
        }
    };
    let code = random_token("code");
    let now = state.clock.now();
    let identity = state.take_next_identity();
    state.grants().codes.insert(
        code.clone(),
        CodeGrant {
            redirect_uri: redirect_uri.to_string(),
            scopes,
            challenge,
            expires_at: now + state.config.code_lifetime,
            used: false,
            identity,
        },
    );
    redirect(
        redirect_uri,
        &[&[("code", code.as_str())], keep.as_slice()].concat(),
    )
}

/// `POST /v1/access_token`: the authorization-code and refresh-token grants.
pub(crate) async fn access_token(
    State(state): State<Arc<SimState>>,
    axum::Extension(TrackingId(tracking_id)): axum::Extension<TrackingId>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != state.config.client_id
        || get("client_secret") != state.config.client_secret
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
            &tracking_id,
        );
    }
    let now = state.clock.now();
    let invalid =
        |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why, &tracking_id);
    let mut grants = state.grants();
    let (scopes, refresh_expires_at, identity) = match get("grant_type") {
        "authorization_code" => {
            let Some(grant) = grants.codes.get_mut(get("code")) else {
                return invalid("The authorization code is invalid.");
            };
            if grant.used || grant.expires_at <= now {
                grant.used = true;
                return invalid("The authorization code is expired or was already used.");
            }
            grant.used = true;
            if grant.redirect_uri != get("redirect_uri") {
                return invalid("redirect_uri does not match the authorize request.");
            }
            if let Some((challenge, method)) = &grant.challenge {
                let verifier = get("code_verifier");
                let computed = if method == "plain" {
                    verifier.to_owned()
                } else {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(sha2::Sha256::digest(verifier.as_bytes()))
                };
                if verifier.is_empty() || computed != *challenge {
                    return invalid("PKCE verification failed.");
                }
            }
            (
                grant.scopes.clone(),
                now + state.config.refresh_lifetime,
                grant.identity.clone(),
            )
        }
        "refresh_token" => {
            let Some(grant) = grants.refresh.get_mut(get("refresh_token")) else {
                return invalid(
                    "The refresh token provided is expired, revoked, malformed, or invalid.",
                );
            };
            if grant.revoked || grant.expires_at <= now {
                return invalid(
                    "The refresh token provided is expired, revoked, malformed, or invalid.",
                );
            }
            // Rotation: the old refresh token stops working; the new one keeps its expiry.
            grant.revoked = true;
            (
                grant.scopes.clone(),
                grant.expires_at,
                grant.identity.clone(),
            )
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token.",
                &tracking_id,
            );
        }
    };
    let access = random_token("access");
    let refresh = random_token("refresh");
    let access_expires_at = now + state.config.access_lifetime;
    grants.access.insert(
        access.clone(),
        AccessGrant {
            scopes: scopes.clone(),
            expires_at: access_expires_at,
            identity: identity.clone(),
        },
    );
    grants.refresh.insert(
        refresh.clone(),
        RefreshGrant {
            scopes,
            expires_at: refresh_expires_at,
            revoked: false,
            identity,
        },
    );
    // Webex's lifetimes come back a second short of the round numbers.
    let body = serde_json::json!({
        "access_token": access,
        "expires_in": (access_expires_at - now).num_seconds() - 1,
        "refresh_token": refresh,
        "refresh_token_expires_in": (refresh_expires_at - now).num_seconds() - 1,
        "token_type": "Bearer",
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}
