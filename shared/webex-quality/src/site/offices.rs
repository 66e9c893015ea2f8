//! Offices: which office a participant joined from, by the IP ranges of `WEBEX_QUALITY_SITES_FILE`
//! (a CSV of `cidr,name`, IPv4 and IPv6). A session's `localIP` and `publicIP` are both looked up;
//! the longest matching prefix wins, and a participant outside every range is [`REMOTE`].

use std::net::IpAddr;

use ipnet::IpNet;

/// The office of a participant outside every range.
pub const REMOTE: &str = "remote";

/// The setting that names the file.
const SETTING: &str = "WEBEX_QUALITY_SITES_FILE";

/// IP ranges to office names, longest prefix first. Empty when no file is configured: then the
/// dashboard shows no offices at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offices {
    ranges: Vec<(IpNet, String)>,
}

impl Offices {
    /// The offices of `WEBEX_QUALITY_SITES_FILE`, or none when it is not set.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] naming the setting when the file cannot be read or a line
    /// is invalid.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::config::ConfigError> {
        let path = crate::config::text_setting(lookup, SETTING);
        Self::load(path.as_deref().map(std::path::Path::new))
    }

    /// The offices in the CSV file at `path`; none without one.
    ///
    /// # Errors
    /// As [`Offices::from_lookup`].
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, crate::config::ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let fail = |problem: String| {
            crate::config::ConfigError {
            name: SETTING,
            problem,
            fix: "Give a CSV file of `cidr,name` lines, such as `10.20.0.0/16,Lyon` or `2001:db8:20::/48,Lyon`, or unset it.".into(),
        }
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("{} cannot be read ({e})", path.display())))?;
        Self::parse(&text).map_err(|e| fail(format!("{}: {e}", path.display())))
    }

    /// Parses `cidr,name` lines. A first line `cidr,name` is a header; empty lines and lines
    /// starting with `#` are skipped; a bare address is a range of one; names may be quoted as in
    /// any CSV.
    ///
    /// # Errors
    /// The first invalid line, by number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut ranges = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("not CSV ({e})"))?;
            let line = record.position().map_or(index + 1, |p| {
                usize::try_from(p.line()).unwrap_or(usize::MAX)
            });
            let fields: Vec<&str> = record.iter().collect();
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            if index == 0
                && fields
                    .first()
                    .is_some_and(|f| f.eq_ignore_ascii_case("cidr"))
            {
                continue;
            }
            let [cidr, name] = fields[..] else {
                return Err(format!(
                    "line {line}: expected `cidr,name`, found {} fields",
                    fields.len()
                ));
            };
            let net = cidr
                .parse::<IpNet>()
                .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("line {line}: {cidr:?} is not an IP range such as 10.20.0.0/16")
                })?;
            if name.is_empty() {
                return Err(format!("line {line}: the office has no name"));
            }
            if name.eq_ignore_ascii_case(REMOTE) {
                return Err(format!(
                    "line {line}: {REMOTE:?} is the name of every address outside the ranges"
                ));
            }
            ranges.push((net.trunc(), name.to_owned()));
        }
        // Longest prefix first; among equal prefixes, the file's order.
        ranges.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Ok(Self { ranges })
    }

    /// Whether no office is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The office of a session with these addresses: the range with the longest prefix holding
    /// either, else [`REMOTE`]; `None` when no office is configured.
    #[must_use]
    pub fn office(&self, local_ip: Option<&str>, public_ip: Option<&str>) -> Option<&str> {
        if self.is_empty() {
            return None;
        }
        let addresses: Vec<IpAddr> = [local_ip, public_ip]
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.trim().parse().ok())
            .collect();
        let found = self
            .ranges
            .iter()
            .find(|(net, _)| addresses.iter().any(|ip| net.contains(ip)));
        Some(found.map_or(REMOTE, |(_, name)| name.as_str()))
    }

    /// The office names, each once, in name order, then [`REMOTE`].
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.ranges.iter().map(|(_, n)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if !names.is_empty() {
            names.push(REMOTE);
        }
        names
    }

    /// What the rendered pages depend on (for the render cache's fingerprint).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.ranges
            .iter()
            .map(|(net, name)| format!("{net}={name}\n"))
            .collect()
    }
}

/// Where an office's page goes, from the site root: its name in lower-case letters, digits and
/// dashes, and a short hash of the name so that two names never share a page.
#[must_use]
pub fn office_path(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let hash = crate::db::sha256_hex(name.as_bytes());
    if slug.is_empty() {
        format!("offices/{}.html", &hash[..8])
    } else {
        format!("offices/{slug}-{}.html", &hash[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "cidr,name\n\
        # headquarters\n\
        10.20.0.0/16,Lyon\n\
        10.20.5.0/24,\"Lyon, lab\"\n\
        \n\
        198.51.100.7,Lyon\n\
        2001:db8:20::/48,Lyon\n\
        10.30.0.0/16,Zürich\n\
        203.0.113.0/24,Zürich\n";

    #[test]
    fn the_longest_matching_prefix_of_either_address_names_the_office() {
        let offices = Offices::parse(FILE).unwrap();
        assert_eq!(offices.office(Some("10.20.1.9"), None), Some("Lyon"));
        // The /24 inside the /16 wins, whichever order the file gives them in.
        assert_eq!(offices.office(Some("10.20.5.9"), None), Some("Lyon, lab"));
        // The public address counts too, and a longer prefix on it beats a shorter local one.
        assert_eq!(
            offices.office(Some("10.30.1.1"), Some("198.51.100.7")),
            Some("Lyon")
        );
        assert_eq!(offices.office(None, Some("203.0.113.40")), Some("Zürich"));
        assert_eq!(offices.office(Some("2001:db8:20:1::5"), None), Some("Lyon"));
        assert_eq!(
            offices.office(Some("192.168.1.20"), Some("198.51.100.8")),
            Some(REMOTE)
        );
        assert_eq!(offices.office(Some("not an address"), None), Some(REMOTE));
        assert_eq!(offices.office(None, None), Some(REMOTE));
        assert_eq!(offices.names(), ["Lyon", "Lyon, lab", "Zürich", REMOTE]);
        // No file: no offices at all.
        assert_eq!(Offices::default().office(Some("10.20.1.9"), None), None);
        assert!(Offices::default().names().is_empty());
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        for (text, expected) in [
            (
                "10.0.0.0/8,A\n10.0.0.0/33,B\n",
                "line 2: \"10.0.0.0/33\" is not an IP range",
            ),
            (
                "10.0.0.0/8\n",
                "line 1: expected `cidr,name`, found 1 fields",
            ),
            (
                "10.0.0.0/8,A,extra\n",
                "line 1: expected `cidr,name`, found 3 fields",
            ),
            ("10.0.0.0/8,\n", "line 1: the office has no name"),
            ("10.0.0.0/8,Remote\n", "line 1: \"remote\" is the name"),
        ] {
            let error = Offices::parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_setting_names_itself_in_errors() {
        let error = Offices::from_lookup(&|name| {
            (name == SETTING).then(|| "/nonexistent/sites.csv".to_owned())
        })
        .unwrap_err();
        assert_eq!(error.name, SETTING);
        assert!(Offices::from_lookup(&|_| None).unwrap().is_empty());
    }

    #[test]
    fn office_pages_have_safe_distinct_names() {
        assert!(office_path("Zürich HQ").starts_with("offices/z-rich-hq-"));
        assert_ne!(office_path("Lyon"), office_path("lyon"));
        assert!(office_path("<script>").starts_with("offices/script-"));
        assert!(office_path("東京").starts_with("offices/"));
        assert!(
            office_path("../../x")
                .trim_start_matches("offices/")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        );
    }
}
