//! The secrets sweep: every log line, page, export, URL and database byte a run produced, searched
//! for the run's secrets (access and refresh tokens, client secret, setup secret, authorization
//! codes). Used by the demo's end-to-end test and the Lambda functions' one.

use std::path::{Path, PathBuf};

/// The simulator's codes and tokens are base64url of `code-…`, `access-…` and `refresh-…` (see
/// `webex_sim::oauth::random_token`): these prefixes find any of them, even ones the test never saw
/// (a code exchanged inside the demo, an access token replaced by a refresh). Seven or more fixed
/// characters: a chance match in compressed bytes is below one in a million per 10 MB.
const SIMULATOR_SECRET_PREFIXES: [(&str, &str); 3] = [
    ("a simulator authorization code", "Y29kZS"),
    ("a simulator access token", "YWNjZXNzL"),
    ("a simulator refresh token", "cmVmcmVzaC"),
];

/// What must not appear, by name.
#[derive(Default)]
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Adds a secret (8 bytes at least: a shorter one would match by chance).
    pub fn add(&mut self, name: &str, value: &str) -> &mut Self {
        assert!(value.len() >= 8, "{name} is too short to sweep for");
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// How many secrets.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Where a sweep looked.
#[derive(Default)]
pub struct Haystacks {
    items: Vec<(String, Vec<u8>)>,
    bytes: usize,
}

impl Haystacks {
    /// One piece of output (a log, a response body, a URL, an object).
    pub fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        self.bytes += bytes.len();
        self.items.push((name.into(), bytes));
    }

    /// Every file under `folder`, at any depth, except those `skip` accepts (the token file, whose
    /// job is to hold them).
    pub fn add_folder(&mut self, folder: &Path, skip: &dyn Fn(&Path) -> bool) {
        let mut stack: Vec<PathBuf> = vec![folder.to_owned()];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
            } else if !skip(&path) {
                self.add(path.display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }

    /// Pieces searched.
    pub fn count(&self) -> usize {
        self.items.len()
    }

    /// Bytes searched.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Each place a secret (or a simulator token) appears: "NAME in PLACE".
    pub fn findings(&self, secrets: &Secrets) -> Vec<String> {
        let mut found = Vec::new();
        for (place, bytes) in &self.items {
            for (name, value) in &secrets.0 {
                if contains(bytes, value.as_bytes()) {
                    found.push(format!("{name} in {place}"));
                }
            }
            for (name, prefix) in SIMULATOR_SECRET_PREFIXES {
                if contains(bytes, prefix.as_bytes()) {
                    found.push(format!("{name} in {place}"));
                }
            }
        }
        found
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[test]
fn the_sweep_finds_a_planted_secret_and_a_simulator_token() {
    let mut secrets = Secrets::default();
    secrets.add("the client secret", "client-secret-value");
    let mut clean = Haystacks::default();
    clean.add("log", "nothing to see");
    assert!(clean.findings(&secrets).is_empty());
    let mut dirty = Haystacks::default();
    dirty.add("log", "sent client-secret-value to the server");
    dirty.add(
        "page",
        format!("token {}", base64_of("access-0123456789abcdef")),
    );
    assert_eq!(
        dirty.findings(&secrets),
        [
            "the client secret in log",
            "a simulator access token in page"
        ]
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
