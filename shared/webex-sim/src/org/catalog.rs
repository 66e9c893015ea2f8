//! What the organisation is made of: network qualities, client devices, versions, server regions,
//! names and meeting titles.

/// How a person's network usually behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkQuality {
    /// Clean: loss near 0, low latency and jitter.
    Good,
    /// Some loss and latency.
    Moderate,
    /// Loss bursts, high latency, jitter.
    Bad,
}

/// A client kind with what it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// `clientType`.
    pub client_type: &'static str,
    /// `osType`.
    pub os_type: &'static str,
    /// `osVersion`.
    pub os_version: &'static str,
    /// `hardwareType`.
    pub hardware: &'static str,
    /// Reports CPU `resources`.
    pub reports_cpu: bool,
    /// Usual network types.
    pub networks: &'static [&'static str],
}

pub(super) const DEVICES: &[Device] = &[
    Device {
        client_type: "Webex_Desktop_Client (Windows)",
        os_type: "windows",
        os_version: "Windows 11 Enterprise 23H2",
        hardware: "Dell Latitude 7440",
        reports_cpu: true,
        networks: &["ethernet", "wifi"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Windows)",
        os_type: "windows",
        os_version: "Windows 10 Pro 22H2",
        hardware: "Lenovo ThinkPad T14",
        reports_cpu: true,
        networks: &["wifi", "ethernet"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Mac)",
        os_type: "mac",
        os_version: "macOS 15.5",
        hardware: "MacBook Pro",
        reports_cpu: true,
        networks: &["wifi"],
    },
    Device {
        client_type: "Webex_Desktop_Client (Mac)",
        os_type: "mac",
        os_version: "macOS 14.7",
        hardware: "MacBook Air",
        reports_cpu: true,
        networks: &["wifi"],
    },
    Device {
        client_type: "Teams_Mobile_Client (iOS)",
        os_type: "ios",
        os_version: "iOS 18.4.1",
        hardware: "iPhone 15",
        reports_cpu: false,
        networks: &["cellular", "wifi"],
    },
    Device {
        client_type: "Webex_Mobile_Client (Android)",
        os_type: "android",
        os_version: "Android 15",
        hardware: "Pixel 8",
        reports_cpu: false,
        networks: &["cellular", "wifi"],
    },
    Device {
        client_type: "Webex_Web_Client (Chrome)",
        os_type: "windows",
        os_version: "Windows 11 Pro",
        hardware: "Chrome 138",
        reports_cpu: false,
        networks: &["wifi", "ethernet"],
    },
    Device {
        client_type: "TEAMS_DEVICE",
        os_type: "roomos",
        os_version: "RoomOS 11.28",
        hardware: "Cisco Room Kit Pro",
        reports_cpu: false,
        networks: &["ethernet"],
    },
];

pub(super) const CLIENT_VERSIONS: &[&str] = &[
    "45.6.1.32593",
    "45.5.0.32411",
    "45.4.2.31887",
    "44.12.0.31236",
];
pub(super) const REGIONS: &[&str] = &[
    "Frankfurt, Germany",
    "San Jose, USA",
    "London, UK",
    "Amsterdam, Netherlands",
    "Singapore",
];
pub(super) const FIRST: &[&str] = &[
    "Dana",
    "Priya",
    "Marco",
    "Zoë",
    "José",
    "Łukasz",
    "Søren",
    "Françoise",
    "Nguyễn",
    "Aleksandra",
    "Björn",
    "Chloé",
    "Renée",
    "Yūki",
    "Ciarán",
    "Åsa",
    "Mateus",
    "Ingrid",
    "Olúwasẹ́un",
    "Hana",
    "王芳",
    "سارة",
    "Leilani",
    "Tomás",
];
pub(super) const LAST: &[&str] = &[
    "Whitfield",
    "Raman",
    "Bellini",
    "Müller",
    "García",
    "Kowalski",
    "Østergaard",
    "Lefèvre",
    "Văn An",
    "Nowak",
    "Sjöberg",
    "Dubois",
    "O'Connor",
    "Tanaka",
    "Ó Briain",
    "Lindqvist",
    "Ferreira",
    "Haugen",
    "Adébáyọ̀",
    "Novák",
];
pub(super) const TITLES: &[&str] = &[
    "Weekly Platform Sync",
    "1:1",
    "Design review",
    "Customer call — Acme GmbH",
    "Sprint planning",
    "Incident retro",
    "Roadmap Q3",
    "Hiring debrief",
    "Support escalation",
    "Budget review",
    "Café & code",
    "Kundentermin Zürich",
    "Revisión de arquitectura",
    "Board prep",
];

/// An office of the simulated organisation: its LAN (`10.<lan>.0.0/16`) and the public address its
/// traffic leaves from. `docs/offices.md` has the sites file that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Office {
    /// Name.
    pub name: &'static str,
    /// The second octet of its LAN.
    pub lan: u8,
    /// Its public address.
    pub public_ip: &'static str,
    /// The range its provider gave it.
    pub public_range: &'static str,
}

/// The offices. Lyon's Wi-Fi is congested: most people on bad Wi-Fi sit there.
pub const OFFICES: &[Office] = &[
    Office {
        name: "Paris HQ",
        lan: 10,
        public_ip: "198.51.100.10",
        public_range: "198.51.100.10/32",
    },
    Office {
        name: "Lyon",
        lan: 20,
        public_ip: "198.51.100.20",
        public_range: "198.51.100.20/32",
    },
    Office {
        name: "Singapore",
        lan: 30,
        public_ip: "2001:db8:30::1",
        public_range: "2001:db8:30::/48",
    },
];

/// The office a person works from, or `None` when they work from home or on the move: drawn from
/// the person's index, not the generator, so that the rest of the organisation stays as it was.
#[must_use]
pub fn office_of(person: usize, network: &str, quality: NetworkQuality) -> Option<&'static Office> {
    let draw = person.wrapping_mul(2_654_435_761) >> 8;
    match (network, quality) {
        ("cellular", _) => None,
        ("wifi", NetworkQuality::Bad) if draw % 10 < 7 => Some(&OFFICES[1]),
        ("ethernet", _) => Some(&OFFICES[draw % OFFICES.len()]),
        _ if draw % 10 < 6 => Some(&OFFICES[draw % OFFICES.len()]),
        _ => None,
    }
}

/// The sites file (`cidr,name`) of the offices: each office's LAN and public range.
#[must_use]
pub fn sites_csv() -> String {
    let mut out = String::from("cidr,name\n");
    for office in OFFICES {
        out.push_str(&format!("10.{}.0.0/16,{}\n", office.lan, office.name));
        out.push_str(&format!("{},{}\n", office.public_range, office.name));
    }
    out
}
