//! Where the access token may go. Webex chooses some of the URLs the client calls (the `Link` of the
//! next page, the regional host a 451 names), so each URL is checked before the token is attached:
//! Webex's own hosts over HTTPS, or the origin of a configured base URL (the simulator, a proxy).

use url::{Host, Url};

/// Webex's API domains: the hosts themselves and every host under them (`analytics-eu.webexapis.com`).
const WEBEX_DOMAINS: [&str; 2] = ["webexapis.com", "ciscospark.com"];

/// Whether the access token may be sent to `url`, given the configured base URLs: HTTPS on the
/// default port to a Webex host, or the scheme, host and port of one of `bases` (where `localhost`
/// and loopback addresses count as one host, so a local simulator may name itself either way).
#[must_use]
pub fn token_may_go_to(url: &Url, bases: &[&Url]) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    if url.scheme() == "https" && url.port().is_none() && is_webex_host(&host) {
        return true;
    }
    bases.iter().any(|base| {
        base.scheme() == url.scheme()
            && base.port_or_known_default() == url.port_or_known_default()
            && base.host().is_some_and(|base_host| {
                same_host(&base_host, &host) || (is_loopback(&base_host) && is_loopback(&host))
            })
    })
}

fn is_webex_host(host: &Host<&str>) -> bool {
    let Host::Domain(name) = host else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    WEBEX_DOMAINS.iter().any(|domain| {
        name == *domain
            || name
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
    })
}

fn same_host(a: &Host<&str>, b: &Host<&str>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn may(url: &str, bases: &[&str]) -> bool {
        let bases: Vec<Url> = bases.iter().map(|b| Url::parse(b).unwrap()).collect();
        let refs: Vec<&Url> = bases.iter().collect();
        token_may_go_to(&Url::parse(url).unwrap(), &refs)
    }

    const WEBEX: [&str; 2] = [
        "https://webexapis.com/v1/",
        "https://analytics.webexapis.com/v1/",
    ];

    #[test]
    fn webex_hosts_over_https_are_trusted() {
        assert!(may("https://webexapis.com/v1/meetings?offset=100", &WEBEX));
        assert!(may(
            "https://analytics-eu.webexapis.com/v1/meeting/qualities",
            &WEBEX
        ));
        assert!(may("https://ANALYTICS.WEBEXAPIS.COM/v1/x", &WEBEX));
        assert!(may("https://api.ciscospark.com/v1/meetings", &WEBEX));
    }

    #[test]
    fn other_hosts_plain_http_and_look_alikes_are_not() {
        for url in [
            "http://webexapis.com/v1/meetings",
            "http://analytics-eu.webexapis.com/v1/meeting/qualities",
            "https://webexapis.com:8443/v1/meetings",
            "https://evil.example/v1/meetings",
            "https://webexapis.com.evil.example/v1/meetings",
            "https://evilwebexapis.com/v1/meetings",
            "https://.webexapis.com/v1/meetings",
            "https://127.0.0.1/v1/meetings",
            "http://localhost:4000/v1/meetings",
        ] {
            assert!(!may(url, &WEBEX), "{url}");
        }
    }

    #[test]
    fn a_configured_base_is_trusted_on_its_own_origin_only() {
        let local = [
            "http://127.0.0.1:4000/v1/",
            "http://127.0.0.1:4000/analytics/v1/",
        ];
        assert!(may("http://127.0.0.1:4000/v1/meetings?offset=2", &local));
        // A simulator naming itself `localhost` (its 451 does): the same loopback host.
        assert!(may(
            "http://localhost:4000/analytics/v1/meeting/qualities",
            &local
        ));
        assert!(may(
            "http://[::1]:4000/analytics/v1/meeting/qualities",
            &local
        ));
        // Another port, scheme or host is somebody else.
        assert!(!may("http://127.0.0.1:4001/v1/meetings", &local));
        assert!(!may("https://127.0.0.1:4000/v1/meetings", &local));
        assert!(!may("http://10.0.0.7:4000/v1/meetings", &local));
        let proxy = ["http://webex-proxy.corp.example:8080/v1/"];
        assert!(may(
            "http://webex-proxy.corp.example:8080/v1/meetings",
            &proxy
        ));
        assert!(!may("http://localhost:8080/v1/meetings", &proxy));
        assert!(!may("http://other.corp.example:8080/v1/meetings", &proxy));
    }
}
