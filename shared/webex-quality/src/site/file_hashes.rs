//! The content hashes of the few files one render cache entry stands for (a meeting's page; a day's
//! page and exports; a person's page): a short sorted list, not a tree. A tree's first node is half
//! a kilobyte, and the cache holds one entry per meeting for the whole build (a heap profile of a
//! full rebuild had these nodes at a tenth of what grew with the number of meetings).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Path to content hash, sorted by path; serialized as a JSON object, as the tree was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHashes(Vec<(String, String)>);

impl FileHashes {
    /// One file.
    #[must_use]
    pub fn one(path: String, hash: String) -> Self {
        Self(vec![(path, hash)])
    }

    /// Sets `path`'s hash.
    pub fn insert(&mut self, path: String, hash: String) {
        match self.0.binary_search_by(|(p, _)| p.as_str().cmp(&path)) {
            Ok(at) => self.0[at].1 = hash,
            Err(at) => self.0.insert(at, (path, hash)),
        }
    }

    /// The files and their hashes, by path.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(path, hash)| (path, hash))
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

impl FromIterator<(String, String)> for FileHashes {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut hashes = Self::default();
        for (path, hash) in iter {
            hashes.insert(path, hash);
        }
        hashes.0.shrink_to_fit();
        hashes
    }
}

impl<const N: usize> From<[(String, String); N]> for FileHashes {
    fn from(files: [(String, String); N]) -> Self {
        files.into_iter().collect()
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
            std::collections::BTreeMap::<String, String>::deserialize(deserializer)?
                .into_iter()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_stay_sorted_and_read_and_write_as_the_tree_did() {
        let mut hashes = FileHashes::from([("days/b.html".into(), "1".into())]);
        hashes.insert("days/a.csv".into(), "2".into());
        hashes.insert("days/c.json".into(), "3".into());
        hashes.insert("days/b.html".into(), "4".into());
        let tree: std::collections::BTreeMap<String, String> = [
            ("days/a.csv".to_owned(), "2".to_owned()),
            ("days/b.html".to_owned(), "4".to_owned()),
            ("days/c.json".to_owned(), "3".to_owned()),
        ]
        .into();
        assert_eq!(hashes.len(), 3);
        assert!(hashes.iter().eq(tree.iter()));
        let json = serde_json::to_string(&hashes).unwrap();
        assert_eq!(json, serde_json::to_string(&tree).unwrap());
        assert_eq!(serde_json::from_str::<FileHashes>(&json).unwrap(), hashes);
        assert!(FileHashes::default().is_empty());
    }
}
