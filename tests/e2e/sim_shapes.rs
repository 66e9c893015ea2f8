//! The simulator answers in the same shapes as the Webex fixtures (`tests/fixtures/webex`, copied
//! from the team handbook): same keys, same JSON types, same headers.

use serde_json::Value;
use webex_sim::{Fault, Route};

use crate::helpers::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/webex/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys at every level, same JSON types; arrays compare their first elements when both have one.
fn assert_same_shape(path: &str, expected: &Value, actual: &Value) {
    assert_eq!(kind(expected), kind(actual), "{path}: type");
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let ek: Vec<&String> = e.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            assert_eq!(ek, ak, "{path}: keys, in order");
            for (k, ev) in e {
                assert_same_shape(&format!("{path}.{k}"), ev, &a[k]);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                for (i, av) in a.iter().enumerate().take(3) {
                    assert_same_shape(&format!("{path}[{i}]"), e0, av);
                }
                let _ = a0;
            }
        }
        _ => {}
    }
}

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

async fn get(url: &str, token: &str) -> reqwest::Response {
    webex_sim::browser::client()
        .unwrap()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn list_meetings_pages_have_the_fixture_shape_and_headers() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let token = login(&sim, &oauth).await.access_token;
    let url = format!(
        "{}/meetings?meetingType=meeting&state=ended&max=2",
        sim.api_url()
    );
    let first = get(&url, token.expose()).await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(first.headers().contains_key("trackingid"));
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.starts_with('<') && link.ends_with(">; rel=\"next\""),
        "{link}"
    );
    let body: Value = json(first).await;
    let expected = fixture("list-meetings-page1.json");
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_same_shape("items[0]", &expected["items"][0], &body["items"][0]);
    // The last page has no Link.
    let last = get(&format!("{}/meetings?meetingType=meeting&max=100&from=2026-01-05T00:00:00Z&to=2026-01-05T12:00:00Z", sim.api_url()), token.expose()).await;
    assert!(!last.headers().contains_key("link"));
    sim.shutdown().await;
}

#[tokio::test]
async fn qualities_items_have_the_fixture_shape() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let token = login(&sim, &oauth).await.access_token;
    let expected = fixture("meeting-qualities-3-participants.json");
    let template = &expected["items"][0];
    let mut compared = 0;
    for meeting in sim.org().meetings.iter().step_by(9).take(6) {
        let url = format!(
            "{}/meeting/qualities?meetingId={}&max=1000",
            sim.analytics_url(),
            meeting.instance_id
        );
        let response = get(&url, token.expose()).await;
        assert_eq!(response.status(), 200);
        let body: Value = json(response).await;
        for item in body["items"].as_array().unwrap() {
            assert_same_shape("item", template, item);
            for stream in [
                "audioIn", "audioOut", "videoIn", "videoOut", "shareIn", "shareOut",
            ] {
                for segment in item[stream].as_array().unwrap() {
                    assert_same_shape(stream, &template["videoIn"][0], segment);
                }
            }
            compared += 1;
        }
    }
    assert!(compared > 20, "{compared} items compared");
    sim.shutdown().await;
}

#[tokio::test]
async fn token_answers_have_the_fixture_shape() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let request = oauth.authorize_url();
    let location = browser_redirect(&request.url).await;
    let success =
        url::Url::parse(fixture("oauth-redirects.json")["success"].as_str().unwrap()).unwrap();
    let keys = |u: &url::Url| {
        u.query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&location), keys(&success));
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", sim.config().client_id.as_str()),
        ("client_secret", sim.config().client_secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", request.pkce_verifier.expose()),
    ];
    let http = webex_sim::browser::client().unwrap();
    let token_url = format!("{}/access_token", sim.api_url());
    let granted: Value = json(http.post(&token_url).form_body(&form).send().await.unwrap()).await;
    assert_same_shape("token", &fixture("token-authorization-code.json"), &granted);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", sim.config().client_id.as_str()),
        ("client_secret", sim.config().client_secret.as_str()),
        ("refresh_token", granted["refresh_token"].as_str().unwrap()),
    ];
    let refreshed: Value = json(
        http.post(&token_url)
            .form_body(&refresh)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_same_shape("refresh", &fixture("token-refresh.json"), &refreshed);
    // Reusing the rotated refresh token is invalid_grant, in the OAuth shape.
    let reused = http
        .post(&token_url)
        .form_body(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 400);
    let error: Value = json(reused).await;
    assert_same_shape("error", &fixture("token-error-invalid-grant.json"), &error);
    sim.shutdown().await;
}

#[tokio::test]
async fn error_answers_have_the_fixture_shape() {
    let sim = spawn_sim().await;
    let oauth = oauth_client(&sim, &quick_options());
    let token = login(&sim, &oauth).await.access_token;
    let meeting = &sim.org().meetings[0].instance_id;
    let qualities = format!(
        "{}/meeting/qualities?meetingId={meeting}",
        sim.analytics_url()
    );

    let unauthorized = get(&qualities, "nope").await;
    assert_eq!(unauthorized.status(), 401);
    assert!(unauthorized.headers().contains_key("trackingid"));
    assert_same_shape("401", &fixture("error-401.json"), &json(unauthorized).await);

    assert_eq!(get(&qualities, token.expose()).await.status(), 200);
    let limited = get(&qualities, token.expose()).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after));
    assert_same_shape(
        "429",
        &fixture("error-429-qualities.json"),
        &json(limited).await,
    );

    sim.faults().inject(Route::Qualities, Fault::Status(403), 1);
    let forbidden = get(&qualities, token.expose()).await;
    assert_eq!(forbidden.status(), 403);
    assert_same_shape(
        "403",
        &fixture("error-403-qualities.json"),
        &json(forbidden).await,
    );

    sim.require_regional_analytics_host();
    let wrong_region = get(&qualities, token.expose()).await;
    assert_eq!(wrong_region.status(), 451);
    assert_same_shape(
        "451",
        &fixture("error-451-analytics-region.json"),
        &json(wrong_region).await,
    );
    sim.shutdown().await;
}
