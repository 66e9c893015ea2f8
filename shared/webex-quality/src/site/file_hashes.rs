//! Content hashes: [`ContentHash`], a SHA-256 held as its 32 bytes, and [`FileHashes`], the hashes
//! of the few files one render cache entry stands for (a meeting's page; a day's page and exports; a
//! person's page): a short sorted list, not a tree. A tree's first node is half a kilobyte, and the
//! cache holds one entry per meeting for the whole build (a heap profile of a full rebuild had these
//! nodes at a tenth of what grew with the number of meetings).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 content hash (a file's, or the key of a page's inputs), held as its 32 bytes and
/// written as 64 lowercase hex digits, as the manifest and the render cache always had them.
///
/// A build holds several per meeting (the cache's, the build's manifest, the published manifest's):
/// as hex strings each took 88 bytes and an allocation, as bytes 32 and none.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The hash of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The hash a SHA-256 computation ended with.
    #[must_use]
    pub fn from_digest(digest: Sha256) -> Self {
        Self(digest.finalize().into())
    }

    /// The hash whose 32 bytes are `bytes`.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 hex digits, without an allocation.
    #[must_use]
    pub fn hex(&self) -> [u8; 64] {
        let mut out = [0; 64];
        // Cannot fail: 64 bytes is exactly twice 32.
        let _ = hex::encode_to_slice(self.0, &mut out);
        out
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a content hash is 64 hex digits")]
pub struct NotAHash;

impl FromStr for ContentHash {
    type Err = NotAHash;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| NotAHash)?;
        Ok(Self(bytes))
    }
}

/// As 64 hex digits in text formats (the published manifest, JSON), as its 32 bytes in binary ones
/// (the render cache's records).
impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ContentHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ContentHash, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<ContentHash, E> {
                bytes
                    .try_into()
                    .map(ContentHash)
                    .map_err(|_| E::custom("a content hash is 32 bytes"))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(Visitor)
        } else {
            deserializer.deserialize_bytes(Visitor)
        }
    }
}

/// A site file's path, shared (not copied) by the render cache, the build's manifest and the
/// published manifest: a build holds each kept file's path once, not three times.
pub type SitePath = Arc<str>;

/// Path to content hash of every file of a published site.
pub type Manifest = std::collections::BTreeMap<SitePath, ContentHash>;

/// Path to content hash, sorted by path; serialized as a JSON object, as the tree was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHashes(Vec<(SitePath, ContentHash)>);

impl FileHashes {
    /// One file.
    #[must_use]
    pub fn one(path: impl Into<SitePath>, hash: ContentHash) -> Self {
        Self(vec![(path.into(), hash)])
    }

    /// Sets `path`'s hash.
    pub fn insert(&mut self, path: impl Into<SitePath>, hash: ContentHash) {
        let path = path.into();
        match self.0.binary_search_by(|(p, _)| p.cmp(&path)) {
            Ok(at) => self.0[at].1 = hash,
            Err(at) => self.0.insert(at, (path, hash)),
        }
    }

    /// The files and their hashes, by path.
    pub fn iter(&self) -> impl Iterator<Item = (&SitePath, &ContentHash)> {
        self.0.iter().map(|(path, hash)| (path, hash))
    }

    /// Whether `manifest` lists every file with its hash (the files are published as they are),
    /// each looked up once; the path of each file it lists so is replaced by the manifest's own
    /// copy (one allocation per path, however many holders). Stops at the first file it does not
    /// list: an entry whose files are not all published is not kept, so its paths need no sharing.
    pub fn share_paths_if_listed(&mut self, manifest: &Manifest) -> bool {
        for (path, hash) in &mut self.0 {
            match manifest.get_key_value(&**path) {
                Some((listed, listed_hash)) if listed_hash == hash => {
                    *path = Arc::clone(listed);
                }
                _ => return false,
            }
        }
        true
    }

    /// How many files.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(SitePath, ContentHash)> for FileHashes {
    fn from_iter<I: IntoIterator<Item = (SitePath, ContentHash)>>(iter: I) -> Self {
        let mut hashes = Self::default();
        for (path, hash) in iter {
            hashes.insert(path, hash);
        }
        hashes.0.shrink_to_fit();
        hashes
    }
}

impl<const N: usize> From<[(String, ContentHash); N]> for FileHashes {
    fn from(files: [(String, ContentHash); N]) -> Self {
        files.into_iter().map(|(p, h)| (p.into(), h)).collect()
    }
}

impl Serialize for FileHashes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for FileHashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            std::collections::BTreeMap::<SitePath, ContentHash>::deserialize(deserializer)?
                .into_iter()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> ContentHash {
        ContentHash::of(text.as_bytes())
    }

    #[test]
    fn files_stay_sorted_and_read_and_write_as_the_tree_did() {
        let mut hashes = FileHashes::from([("days/b.html".into(), h("1"))]);
        hashes.insert("days/a.csv", h("2"));
        hashes.insert("days/c.json", h("3"));
        hashes.insert("days/b.html", h("4"));
        // The tree of hex strings the cache used to hold.
        let tree: std::collections::BTreeMap<String, String> = [
            ("days/a.csv".to_owned(), crate::db::sha256_hex(b"2")),
            ("days/b.html".to_owned(), crate::db::sha256_hex(b"4")),
            ("days/c.json".to_owned(), crate::db::sha256_hex(b"3")),
        ]
        .into();
        assert_eq!(hashes.len(), 3);
        assert!(
            hashes
                .iter()
                .map(|(p, h)| (p.to_string(), h.to_string()))
                .eq(tree.clone())
        );
        let json = serde_json::to_string(&hashes).unwrap();
        assert_eq!(json, serde_json::to_string(&tree).unwrap());
        assert_eq!(serde_json::from_str::<FileHashes>(&json).unwrap(), hashes);
        assert!(FileHashes::default().is_empty());
    }

    #[test]
    fn paths_listed_with_the_same_hash_become_the_manifests_own() {
        let manifest: Manifest = [
            (SitePath::from("meetings/a.html"), h("a")),
            (SitePath::from("meetings/a.csv"), h("c")),
        ]
        .into();
        let listed = |path: &str| manifest.get_key_value(path).unwrap().0;
        let mut files = FileHashes::from([
            ("meetings/a.html".to_owned(), h("a")),
            ("meetings/a.csv".to_owned(), h("c")),
        ]);
        assert!(files.share_paths_if_listed(&manifest));
        for (path, _) in files.iter() {
            assert!(Arc::ptr_eq(path, listed(path)), "{path}");
        }
        // Another hash, or a file the manifest does not list: not published as it is.
        let mut changed = FileHashes::one("meetings/a.html", h("b"));
        assert!(!changed.share_paths_if_listed(&manifest));
        let (path, _) = changed.iter().next().unwrap();
        assert!(!Arc::ptr_eq(path, listed("meetings/a.html")));
        assert!(!FileHashes::one("meetings/z.html", h("z")).share_paths_if_listed(&manifest));
        assert!(FileHashes::default().share_paths_if_listed(&manifest));
    }

    #[test]
    fn a_hash_reads_and_writes_as_64_hex_digits_and_refuses_anything_else() {
        let hash = h("page");
        let hex = crate::db::sha256_hex(b"page");
        assert_eq!(hash.to_string(), hex);
        assert_eq!(format!("{hash:?}"), hex);
        assert_eq!(hex.parse::<ContentHash>(), Ok(hash));
        assert_eq!(hex.to_uppercase().parse::<ContentHash>(), Ok(hash));
        assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{hex}\""));
        assert_eq!(
            serde_json::from_str::<ContentHash>(&format!("\"{hex}\"")).unwrap(),
            hash
        );
        for bad in [
            "",
            "hash-p",
            &hex[1..],
            &format!("{hex}0"),
            &format!("g{}", &hex[1..]),
        ] {
            assert_eq!(bad.parse::<ContentHash>(), Err(NotAHash), "{bad}");
        }
        assert!(serde_json::from_str::<ContentHash>("7").is_err());
        let mut sha = Sha256::new();
        sha.update(b"pa");
        sha.update(b"ge");
        assert_eq!(ContentHash::from_digest(sha), hash);
    }
}
