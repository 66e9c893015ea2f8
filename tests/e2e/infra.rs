//! The SAM template (`infra/template.yaml`) against the code: its functions are the workspace's,
//! each function's environment is a configuration its entry point accepts, every setting it sets is
//! one the configuration code reads, and the S3 keys its policies and notifications name are the
//! core's keys. A rename on either side fails here, not at deploy time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;
use webex_quality::config::{
    CollectorConfig, LoginConfig, SetupSecretRule, SignInConfig, SiteConfig,
};
use webex_quality::storage::StoreLocation;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn template() -> Value {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// A sample value for each parameter and pseudo-parameter a `!Sub` or `!Ref` can name.
fn sample(name: &str, template: &Value) -> String {
    match name {
        "AWS::AccountId" => "123456789012".into(),
        "AWS::Region" => "eu-west-1".into(),
        "AWS::Partition" => "aws".into(),
        "AWS::StackName" => "webex-quality".into(),
        "AWS::URLSuffix" => "amazonaws.com".into(),
        "Distribution.DomainName" => "d111111abcdef8.cloudfront.net".into(),
        "ClientSecretParameter" | "SetupSecretParameter" | "CookieKeyParameter" => {
            let default = &template["Parameters"][name]["Default"];
            default.as_str().unwrap().to_owned()
        }
        "WebexClientId" => "C0123456789abcdef".into(),
        "ViewerKey" => "K2JCJMDEHXQW5F".into(),
        "SiteBucket" => "webex-quality-site-bucket".into(),
        "DataBucket" => "webex-quality-data-123456789012-eu-west-1".into(),
        "SiteBucket.Arn" => "arn:aws:s3:::webex-quality-site-bucket".into(),
        "AWS::NoValue" => NO_VALUE.into(),
        other => match &template["Parameters"][other]["Default"] {
            Value::String(text) => text.clone(),
            Value::Number(n) => n.to_string(),
            _ => panic!("no sample for {other}"),
        },
    }
}

/// What `!Ref AWS::NoValue` evaluates to: the setting or statement is left out.
const NO_VALUE: &str = "\u{0}no value";

/// Whether the template's condition `name` holds with the samples (the parameters' defaults).
fn condition(name: &str, template: &Value) -> bool {
    fn holds(value: &Value, template: &Value) -> bool {
        match value {
            Value::Tagged(t) if t.tag == "!Not" => !holds(&t.value[0], template),
            Value::Tagged(t) if t.tag == "!Equals" => {
                evaluate(&t.value[0], template) == evaluate(&t.value[1], template)
            }
            other => panic!("cannot evaluate the condition {other:?}"),
        }
    }
    holds(&template["Conditions"][name], template)
}

/// Whether `value` is `!Ref name`.
fn is_ref(value: &Value, name: &str) -> bool {
    matches!(value, Value::Tagged(t) if t.tag == "!Ref" && t.value == name)
}

/// `value` with an `!If` resolved to its branch; `None` for `AWS::NoValue`.
fn chosen(value: &Value, template: &Value) -> Option<Value> {
    match value {
        Value::Tagged(t) if t.tag == "!If" => {
            let branch = if condition(t.value[0].as_str().unwrap(), template) {
                &t.value[1]
            } else {
                &t.value[2]
            };
            chosen(branch, template)
        }
        value if is_ref(value, "AWS::NoValue") => None,
        other => Some(other.clone()),
    }
}

/// The value of a template expression with the samples above: strings, `!Ref`, `!Sub` and `!If`.
fn evaluate(value: &Value, template: &Value) -> String {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!If" => {
            chosen(value, template).map_or_else(|| NO_VALUE.to_owned(), |v| evaluate(&v, template))
        }
        Value::String(text) => text.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Tagged(tagged) if tagged.tag == "!Ref" || tagged.tag == "!GetAtt" => {
            sample(tagged.value.as_str().unwrap(), template)
        }
        Value::Tagged(tagged) if tagged.tag == "!Sub" => {
            let text = tagged.value.as_str().expect("a !Sub with a string");
            let mut out = String::new();
            let mut rest = text;
            while let Some(at) = rest.find("${") {
                out.push_str(&rest[..at]);
                let end = rest[at..].find('}').unwrap() + at;
                out.push_str(&sample(&rest[at + 2..end], template));
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        }
        other => panic!("cannot evaluate {other:?}"),
    }
}

/// Each serverless function's name and resource.
fn functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// A function's environment: the globals' with its own over them, evaluated; each `NAME_PARAMETER`
/// stands for `NAME`, whose value the extension would read.
fn environment(template: &Value, function: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        if let Some(variables) = source.as_mapping() {
            for (name, value) in variables {
                let value = evaluate(value, template);
                if value != NO_VALUE {
                    env.insert(name.as_str().unwrap().to_owned(), value);
                }
            }
        }
    }
    env
}

fn with_secrets(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = env.clone();
    for (name, _) in env.iter().filter(|(n, _)| n.ends_with("_PARAMETER")) {
        let setting = name.trim_end_matches("_PARAMETER");
        let value = if setting.ends_with("_URL") {
            "https://hooks.example/a-long-secret-from-the-extension"
        } else {
            "a-long-secret-from-the-extension"
        };
        out.insert(setting.to_owned(), value.into());
    }
    out
}

/// The text of every Rust source under `dir`.
fn sources(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text.push_str(&sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

#[test]
fn the_templates_functions_are_the_workspaces_with_settings_their_code_accepts() {
    let template = template();
    let functions = functions(&template);
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"][0], "arm64");
    // Two malloc arenas, not one per thread: a full rebuild's peak memory without it varied by half
    // from run to run (README, Rendering).
    assert_eq!(
        globals["Environment"]["Variables"]["MALLOC_ARENA_MAX"], "2",
        "glibc's arenas are capped for every function"
    );
    // Every function folder is deployed, each as the binary its package builds.
    let mut folders: Vec<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut deployed: Vec<String> = Vec::new();
    for (name, function) in &functions {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let code = function["Properties"]["CodeUri"].as_str().unwrap();
        let folder = code
            .strip_prefix("../functions/")
            .expect("a function folder");
        let manifest =
            std::fs::read_to_string(repo().join("functions").join(folder).join("Cargo.toml"))
                .unwrap();
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{name}: functions/{folder} builds no binary {binary}"
        );
        deployed.push(folder.to_owned());
    }
    deployed.sort();
    assert_eq!(deployed, folders, "every function folder, once");

    // Every setting the template gives is one the configuration code reads (or the runtime's:
    // the log filter, glibc's malloc arenas).
    let config_code = sources(&repo().join("shared/webex-quality/src/config"));
    for (name, function) in &functions {
        for setting in environment(&template, function).keys() {
            assert!(
                ["RUST_LOG", "MALLOC_ARENA_MAX"].contains(&setting.as_str())
                    || config_code.contains(&format!("\"{setting}\"")),
                "{name} sets {setting}, which no configuration code reads"
            );
        }
    }

    // Each function's environment is a configuration its entry point accepts, pointing at the
    // stores the policies are about.
    let env = |name: &str| with_secrets(&environment(&template, &functions[name]));
    let lookup = |env: BTreeMap<String, String>| move |name: &str| env.get(name).cloned();
    let collector = CollectorConfig::from_lookup(&lookup(env("Collector"))).unwrap();
    let data = StoreLocation::S3 {
        bucket: "webex-quality-data-123456789012-eu-west-1".into(),
        prefix: "data".into(),
    };
    assert_eq!(collector.store, data);
    let site = SiteConfig::from_lookup(&lookup(env("SiteBuilder"))).unwrap();
    assert_eq!(site.store, data);
    assert!(matches!(site.site_store, StoreLocation::S3 { .. }));
    let login =
        LoginConfig::from_lookup(&lookup(env("OAuthRedirect")), SetupSecretRule::Required).unwrap();
    assert_eq!(
        login.oauth.redirect_uri.as_str(),
        "https://d111111abcdef8.cloudfront.net/oauth/callback"
    );
    let sign_in = SignInConfig::from_lookup(&lookup(env("OAuthRedirect")))
        .unwrap()
        .expect("the viewers' sign-in is configured");
    assert_eq!(
        sign_in.redirect_uri().as_str(),
        "https://d111111abcdef8.cloudfront.net/auth/callback"
    );
    assert_eq!(sign_in.key_id, "K2JCJMDEHXQW5F");
    assert_eq!(
        template["Parameters"]["WebexScopes"]["Default"],
        webex_quality::config::DEFAULT_SCOPES,
        "the template asks for the scopes the code asks for"
    );
    // No secret is in an environment: only the names of the parameters that hold them.
    for (name, function) in &functions {
        let env = environment(&template, function);
        for secret in webex_quality::config::parameters::SECRET_SETTINGS {
            assert!(
                !env.contains_key(secret),
                "{name} has {secret} in plain text"
            );
        }
    }
}

/// The object keys a function's policy lets it touch, relative to the data store, by action.
fn data_keys(template: &Value, function: &Value) -> BTreeMap<String, Vec<String>> {
    let prefix = format!(
        "arn:aws:s3:::webex-quality-data-123456789012-eu-west-1/{}/",
        sample("DataPrefix", template)
    );
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            let Some(statement) = chosen(statement, template) else {
                continue;
            };
            let actions: Vec<String> = match &statement["Action"] {
                Value::Sequence(list) => list.iter().map(|a| a.as_str().unwrap().into()).collect(),
                one => vec![one.as_str().unwrap().into()],
            };
            let resources: Vec<String> = match &statement["Resource"] {
                Value::Sequence(list) => list.iter().map(|r| evaluate(r, template)).collect(),
                one => vec![evaluate(one, template)],
            };
            for resource in resources {
                if let Some(key) = resource.strip_prefix(&prefix) {
                    for action in &actions {
                        keys.entry(action.clone()).or_default().push(key.to_owned());
                    }
                }
            }
        }
    }
    keys
}

#[test]
fn the_templates_keys_and_triggers_are_the_cores_and_each_function_reaches_only_its_own() {
    use webex_quality::alerts::ALERTS_KEY;
    use webex_quality::collect::{LEASE_KEY, SPILL_PREFIX};
    use webex_quality::history::{ARCHIVE_PREFIX, DATABASE_KEY};
    use webex_quality::site::PERSON_KEY_KEY;
    use webex_quality::site::RENDER_INPUTS;
    use webex_quality::site::analytics::ANALYTICS_PREFIX;
    use webex_quality::site::render_cache::{LEGACY_SITE_CACHE_KEY, PARTS_PREFIX, SITE_CACHE_KEY};
    use webex_quality::status::STATUS_KEY;
    use webex_quality::tokens::TOKENS_KEY;

    let template = template();
    let functions = functions(&template);
    let archives = format!("{ARCHIVE_PREFIX}*");
    let cache_parts = format!("{PARTS_PREFIX}*");
    let keys = |name: &str, action: &str| {
        let mut keys = data_keys(&template, &functions[name])
            .remove(action)
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let sorted = |list: &[&str]| {
        let mut list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        list.sort();
        list
    };
    let spills = format!("{SPILL_PREFIX}*");
    let collector = sorted(&[
        DATABASE_KEY,
        STATUS_KEY,
        TOKENS_KEY,
        LEASE_KEY,
        &archives,
        &spills,
        ALERTS_KEY,
        PERSON_KEY_KEY,
    ]);
    assert_eq!(keys("Collector", "s3:GetObject"), collector);
    assert_eq!(keys("Collector", "s3:PutObject"), collector);
    // The collector deletes only the spills it merged.
    assert_eq!(keys("Collector", "s3:DeleteObject"), sorted(&[&spills]));
    assert_eq!(
        keys("SiteBuilder", "s3:GetObject"),
        sorted(&[
            DATABASE_KEY,
            STATUS_KEY,
            &archives,
            SITE_CACHE_KEY,
            &cache_parts,
            LEGACY_SITE_CACHE_KEY,
            PERSON_KEY_KEY
        ])
    );
    // The site-builder deletes only the render cache's earlier form, once it saved the new one.
    assert_eq!(
        keys("SiteBuilder", "s3:DeleteObject"),
        sorted(&[LEGACY_SITE_CACHE_KEY])
    );
    assert_eq!(
        keys("SiteBuilder", "s3:PutObject"),
        sorted(&[
            SITE_CACHE_KEY,
            &cache_parts,
            PERSON_KEY_KEY,
            &format!("{ANALYTICS_PREFIX}*")
        ])
    );
    assert_eq!(
        keys("OAuthRedirect", "s3:GetObject"),
        sorted(&[TOKENS_KEY, STATUS_KEY])
    );
    // The site-builder is woken by exactly the keys a render reads for.
    let events = functions["SiteBuilder"]["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    let mut triggers: Vec<String> = events
        .values()
        .filter(|e| e["Type"] == "S3")
        .map(|e| {
            let rule = &e["Properties"]["Filter"]["S3Key"]["Rules"][0];
            assert_eq!(rule["Name"], "prefix");
            evaluate(&rule["Value"], &template)
                .trim_start_matches("data/")
                .to_owned()
        })
        .collect();
    triggers.sort();
    assert_eq!(triggers, sorted(&RENDER_INPUTS));
    // The collector every 5 minutes, one at a time, done before the next.
    let collector = &functions["Collector"]["Properties"];
    assert_eq!(
        collector["Events"]["EveryFiveMinutes"]["Properties"]["ScheduleExpression"],
        "rate(5 minutes)"
    );
    assert!(collector["Timeout"].as_u64().unwrap() < 300);
    assert_eq!(collector["ReservedConcurrentExecutions"], 1);
    assert_eq!(
        functions["SiteBuilder"]["Properties"]["ReservedConcurrentExecutions"],
        1
    );
    // The daily copy copies the database the collector writes.
    let copy = evaluate(
        &template["Resources"]["DailyCopy"]["Properties"]["Target"]["Input"],
        &template,
    );
    let copy: serde_json::Value = serde_json::from_str(&copy).unwrap();
    assert_eq!(
        copy["CopySource"],
        format!("webex-quality-data-123456789012-eu-west-1/data/{DATABASE_KEY}")
    );
}

#[test]
fn the_apis_access_log_names_the_route_not_the_url() {
    // The OAuth callback's URL carries the authorization code in its query; the access log keeps
    // the route key (`GET /oauth/callback`) and never the path or query.
    let template = template();
    let stages: Vec<&Value> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Stage")
        .collect();
    assert!(!stages.is_empty());
    for stage in stages {
        let format = stage["Properties"]["AccessLogSettings"]["Format"]
            .as_str()
            .unwrap();
        assert!(format.contains("$context.routeKey"), "{format}");
        for leak in [
            "$context.path",
            "querystring",
            "$context.requestOverride",
            "$input",
        ] {
            assert!(!format.contains(leak), "{leak} in {format}");
        }
    }
}

/// The `ssm:GetParameter` resources of a function's policies.
fn parameters_read(template: &Value, function: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            let Some(statement) = chosen(statement, template) else {
                continue;
            };
            if statement["Action"] == "ssm:GetParameter" {
                out.push(evaluate(&statement["Resource"], template));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_optional_alerts_and_offices_reach_the_functions_that_use_them() {
    use webex_quality::config::{CollectorConfig, SiteConfig};

    // Left out (the defaults): no alerts, no offices, no extra layer or parameter.
    let plain = template();
    let functions_plain = functions(&plain);
    let collector_plain = CollectorConfig::from_lookup(&|name: &str| {
        with_secrets(&environment(&plain, &functions_plain["Collector"]))
            .get(name)
            .cloned()
    })
    .unwrap();
    assert!(collector_plain.alerts.is_none());
    assert_eq!(
        parameters_read(&plain, &functions_plain["Collector"]).len(),
        1,
        "the client secret only"
    );

    // Given: the layer's files and the secrets' parameters reach the collector, the sites file the
    // site-builder, and the collector may read exactly those parameters.
    let mut given = template();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.json");
    std::fs::write(
        &rules,
        r#"{"webex_room_id": "room", "meeting_poor_participants": 3}"#,
    )
    .unwrap();
    let sites = dir.path().join("sites.csv");
    std::fs::write(&sites, "10.20.0.0/16,Lyon\n").unwrap();
    let layer = "arn:aws:lambda:eu-west-1:123456789012:layer:webex-quality-config:3";
    for (name, value) in [
        ("ConfigLayerArn", layer),
        ("AlertsFile", rules.to_str().unwrap()),
        ("SitesFile", sites.to_str().unwrap()),
        ("AlertsBotTokenParameter", "/webex-quality/alerts-bot-token"),
        ("AlertsWebhookUrlParameter", "/webex-quality/alerts-webhook"),
    ] {
        given["Parameters"][name]["Default"] = Value::String(value.into());
    }
    let functions = functions(&given);
    let env = |name: &str| with_secrets(&environment(&given, &functions[name]));
    let collector_env = env("Collector");
    let collector =
        CollectorConfig::from_lookup(&|name: &str| collector_env.get(name).cloned()).unwrap();
    let alerts = collector.alerts.expect("the alerts are configured");
    assert!(alerts.bot_token.is_some() && alerts.webhook_url.is_some());
    assert_eq!(alerts.rules.meeting_poor_participants, Some(3));
    assert_eq!(alerts.sites_file.as_deref(), Some(sites.as_path()));
    assert_eq!(
        alerts.dashboard_url.as_deref(),
        Some("https://d111111abcdef8.cloudfront.net")
    );
    let site_env = env("SiteBuilder");
    let site = SiteConfig::from_lookup(&|name: &str| site_env.get(name).cloned()).unwrap();
    assert_eq!(site.sites_file.as_deref(), Some(sites.as_path()));
    for name in ["Collector", "SiteBuilder"] {
        let layers = chosen(&functions[name]["Properties"]["Layers"], &given).unwrap();
        let layers: Vec<String> = layers
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|l| chosen(l, &given))
            // The extension's layer is a two-argument !Sub, not evaluated here.
            .filter(|l| matches!(l, Value::Tagged(t) if t.tag == "!Ref"))
            .map(|l| evaluate(&l, &given))
            .collect();
        assert!(layers.iter().any(|l| l == layer), "{name}: {layers:?}");
    }
    let read = parameters_read(&given, &functions["Collector"]);
    for parameter in [
        "/webex-quality/alerts-bot-token",
        "/webex-quality/alerts-webhook",
    ] {
        assert!(
            read.iter()
                .any(|r| r.ends_with(&format!("parameter{parameter}"))),
            "{read:?}"
        );
    }
    assert_eq!(read.len(), 3, "and the client secret");
}

#[test]
fn the_site_builders_memory_is_a_parameter_watched_before_it_runs_out() {
    // A render holds a summary of every meeting of the history, so its memory grows with it: the
    // memory is a parameter, each invocation's peak (Lambda's JSON "platform.report") becomes a
    // metric, and an alarm compares it with that same parameter; failed renders alarm too.
    let template = template();
    let resources = &template["Resources"];
    let builder = &resources["SiteBuilder"]["Properties"];
    assert!(is_ref(&builder["MemorySize"], "SiteBuilderMemoryMB"));
    let parameter = &template["Parameters"]["SiteBuilderMemoryMB"];
    assert_eq!(parameter["MaxValue"], 10240, "Lambda's largest");
    // "platform.report" is a JSON system log: the function must log JSON into the filtered group.
    assert_eq!(builder["LoggingConfig"]["LogFormat"], "JSON");
    let group = builder["LoggingConfig"]["LogGroup"].clone();
    let filter = &resources["SiteBuilderMemoryFilter"]["Properties"];
    assert_eq!(filter["LogGroupName"], group);
    assert!(
        filter["FilterPattern"]
            .as_str()
            .unwrap()
            .contains(r#"$.type = "platform.report""#)
    );
    let made = &filter["MetricTransformations"][0];
    assert_eq!(made["MetricValue"], "$.record.metrics.maxMemoryUsedMB");
    let alarm = &resources["SiteBuilderMemoryHigh"]["Properties"];
    let metrics = alarm["Metrics"].as_sequence().unwrap();
    let watched = &metrics[0]["MetricStat"]["Metric"];
    assert_eq!(watched["Namespace"], made["MetricNamespace"]);
    assert_eq!(watched["MetricName"], made["MetricName"]);
    assert_eq!(metrics[0]["MetricStat"]["Stat"], "Maximum");
    let id = metrics[0]["Id"].as_str().unwrap();
    let expression = &metrics[1]["Expression"];
    assert!(
        matches!(expression, Value::Tagged(t) if t.tag == "!Sub"
            && t.value.as_str().unwrap().contains("${SiteBuilderMemoryMB}")),
        "the share is of the memory the parameter sets: {expression:?}"
    );
    let share = evaluate(expression, &template);
    assert_eq!(
        share,
        format!("100 * {id} / {}", sample("SiteBuilderMemoryMB", &template))
    );
    assert!(alarm["Threshold"].as_u64().unwrap() < 100);
    let failed = &resources["SiteBuilderFailed"]["Properties"];
    assert_eq!(failed["Namespace"], "AWS/Lambda");
    assert_eq!(failed["MetricName"], "Errors");
    assert!(is_ref(&failed["Dimensions"][0]["Value"], "SiteBuilder"));
    for alarm in [alarm, failed] {
        assert!(is_ref(&alarm["AlarmActions"][0], "Alarms"));
    }
}
