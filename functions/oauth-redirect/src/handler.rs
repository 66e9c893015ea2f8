//! The HTTP side: the core's login router, behind API Gateway's HTTP API (payload v2). Behind a
//! named stage, API Gateway puts the stage in front of the path (`/prod/login`); it is taken off
//! here, so the routes are the same on every stage and under `cargo lambda watch`.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::tower::{ServiceBuilder, util::MapRequest};
use lambda_http::{Request, RequestExt};
use webex_quality::login::signin::{self, SignIn};
use webex_quality::login::{LoginService, standalone_router};

/// The function's service: the login router, with the viewers' sign-in when it is configured,
/// without the stage in the path.
pub(crate) fn app(
    service: Arc<LoginService>,
    sign_in: Option<Arc<SignIn>>,
) -> MapRequest<axum::Router, fn(Request) -> Request> {
    let router = match sign_in {
        Some(sign_in) => standalone_router(service).merge(signin::router(sign_in)),
        None => standalone_router(service),
    };
    ServiceBuilder::new()
        .map_request(without_stage as fn(Request) -> Request)
        .service(router)
}

/// The request with `/{stage}` taken off the front of its path (not for the `$default` stage).
fn without_stage(mut request: Request) -> Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| s != "$default" && !s.is_empty()) else {
        return request;
    };
    let prefix = format!("/{stage}");
    let path = request.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return request,
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(value) = path_and_query.parse() {
        parts.path_and_query = Some(value);
        if let Ok(uri) = lambda_http::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::tower::ServiceExt;

    /// One request through [`app`].
    async fn answer(
        service: Arc<LoginService>,
        request: Request,
    ) -> lambda_http::http::Response<axum::body::Body> {
        app(service, None)
            .oneshot(request)
            .await
            .expect("infallible")
    }
    use webex_quality::config::{LoginConfig, OAuthSettings, Secret, WebexUrls};
    use webex_quality::storage::{FolderStore, SharedStore, StoreLocation};
    use webex_quality::webex::ClientOptions;

    const SETUP_SECRET: &str = "correct-horse-battery-staple";

    /// A login service over a folder store in a temporary folder of its own (tests run in
    /// parallel), removed when the guard is dropped.
    fn service() -> (Arc<LoginService>, tempfile::TempDir) {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_owned();
        let config = LoginConfig {
            store: StoreLocation::Folder(dir.clone()),
            s3: webex_quality::storage::S3Settings::default(),
            urls: WebexUrls::default(),
            oauth: OAuthSettings {
                client_id: "C-integration".into(),
                client_secret: Secret::new("client-secret"),
                redirect_uri:
                    "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/oauth/callback"
                        .parse()
                        .unwrap(),
                scopes: vec!["analytics:read_all".into()],
            },
            setup_secret: Some(Secret::new(SETUP_SECRET)),
            org_id: None,
        };
        let store: SharedStore = Arc::new(FolderStore::new(dir).unwrap());
        let service = LoginService::new(
            &config,
            store,
            ClientOptions::default(),
            Arc::new(webex_quality::clock::SystemClock),
        )
        .unwrap();
        (Arc::new(service), scratch)
    }

    fn request(fixture: &str) -> Request {
        lambda_http::request::from_str(fixture).expect("an HTTP API v2 payload")
    }

    async fn text(response: lambda_http::http::Response<axum::body::Body>) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn get_login_shows_the_form_with_the_setup_secret_field() {
        let (service, _scratch) = service();
        let response = answer(
            service,
            request(include_str!(
                "../../../tests/fixtures/events/apigw-v2-get-login.json"
            )),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = text(response).await;
        assert!(page.contains("name=\"setup_secret\""), "{page}");
        assert!(page.contains("action=\"login\""), "{page}");
    }

    #[tokio::test]
    async fn post_login_on_a_named_stage_with_the_secret_redirects_to_webex_with_a_sealed_cookie() {
        let (service, _scratch) = service();
        let response = answer(
            service,
            request(include_str!(
                "../../../tests/fixtures/events/apigw-v2-post-login.json"
            )),
        )
        .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("https://webexapis.com/v1/authorize?"),
            "{location}"
        );
        assert!(
            location.contains("code_challenge_method=S256"),
            "{location}"
        );
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("__Host-wq-login="), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }

    #[tokio::test]
    async fn a_wrong_setup_secret_is_refused_without_echoing_it() {
        let (service, _scratch) = service();
        let mut payload: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/events/apigw-v2-post-login.json"
        ))
        .unwrap();
        payload["body"] = "setup_secret=%3Cscript%3Eguess%3C%2Fscript%3E".into();
        payload["isBase64Encoded"] = false.into();
        let response = answer(service, request(&payload.to_string())).await;
        assert_eq!(response.status(), 403);
        assert!(response.headers().get("set-cookie").is_none());
        let page = text(response).await;
        assert!(
            !page.contains("guess") && !page.contains("<script>"),
            "{page}"
        );
    }

    #[tokio::test]
    async fn a_callback_without_its_cookie_is_refused_nothing_stored_and_the_cookie_cleared() {
        let (service, dir) = service();
        let response = answer(
            service,
            request(include_str!(
                "../../../tests/fixtures/events/apigw-v2-callback.json"
            )),
        )
        .await;
        assert_eq!(response.status(), 400);
        assert!(
            response.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert!(!dir.path().join(webex_quality::tokens::TOKENS_KEY).exists());
        let page = text(response).await;
        assert!(!page.contains("fixture-code"), "{page}");
    }

    #[tokio::test]
    async fn the_root_redirects_to_the_login_page() {
        let (service, _scratch) = service();
        let mut payload: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/events/apigw-v2-get-login.json"
        ))
        .unwrap();
        payload["rawPath"] = "/".into();
        payload["requestContext"]["http"]["path"] = "/".into();
        let response = answer(service, request(&payload.to_string())).await;
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], "login");
    }
}
