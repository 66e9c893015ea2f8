//! A meeting's id, held as its page's path: one allocation for the render cache and the manifests.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SitePath;
use crate::site::build::meeting_path;

/// What [`meeting_path`] puts before the id.
const PREFIX: &str = "meetings/";
/// What [`meeting_path`] puts after the id.
const SUFFIX: &str = ".html";

/// A meeting's instance id, held as the path of its page (`meetings/<id>.html`, [`meeting_path`]):
/// one allocation for the render cache's key, the archives' lists, and the manifests' entry for
/// the page (the id beside the path was a second copy, about 70 bytes a meeting of history).
/// Compared, ordered, hashed, borrowed, shown and serialized as the id, so the cache is keyed,
/// looked up and stored by id as before.
#[derive(Clone)]
pub struct MeetingKey(SitePath);

impl MeetingKey {
    /// The key of the meeting `id`.
    #[must_use]
    pub fn new(id: &str) -> Self {
        Self(Arc::from(meeting_path(id)))
    }

    /// The key as `manifest` holds the meeting's page's path (one allocation for both), or this
    /// key when `manifest` does not list the page.
    #[must_use]
    pub fn shared_with(self, manifest: &super::Manifest) -> Self {
        manifest
            .get_key_value(&**self.page())
            .and_then(|(path, _)| Self::from_path(Arc::clone(path)))
            .unwrap_or(self)
    }

    /// `path` itself (not a copy), when it is a meeting page's path.
    #[must_use]
    pub fn from_path(path: SitePath) -> Option<Self> {
        Self::id_of_page(&path).is_some().then_some(Self(path))
    }

    /// The id of the meeting whose page is at `path`, when it is a meeting page's path.
    #[must_use]
    pub fn id_of_page(path: &str) -> Option<&str> {
        let fits = path.len() >= PREFIX.len() + SUFFIX.len()
            && path.starts_with(PREFIX)
            && path.ends_with(SUFFIX);
        fits.then(|| &path[PREFIX.len()..path.len() - SUFFIX.len()])
    }

    /// The meeting's instance id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.0[PREFIX.len()..self.0.len() - SUFFIX.len()]
    }

    /// The path of the meeting's page, as the manifests share it.
    #[must_use]
    pub fn page(&self) -> &SitePath {
        &self.0
    }
}

impl From<&str> for MeetingKey {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl std::ops::Deref for MeetingKey {
    type Target = str;

    fn deref(&self) -> &str {
        self.id()
    }
}

impl Borrow<str> for MeetingKey {
    fn borrow(&self) -> &str {
        self.id()
    }
}

impl PartialEq for MeetingKey {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for MeetingKey {}

impl PartialOrd for MeetingKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MeetingKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id().cmp(other.id())
    }
}

impl Hash for MeetingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for MeetingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.id(), f)
    }
}

impl fmt::Display for MeetingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for MeetingKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for MeetingKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = MeetingKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a meeting's instance id")
            }

            fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<MeetingKey, E> {
                Ok(MeetingKey::new(id))
            }
        }
        deserializer.deserialize_str(Id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_meeting_key_is_its_id_everywhere_but_in_memory_where_it_is_its_pages_path() {
        let key = MeetingKey::new("a_I_1");
        assert_eq!((key.id(), &**key.page()), ("a_I_1", "meetings/a_I_1.html"));
        assert_eq!(
            (key.to_string(), format!("{key:?}")),
            ("a_I_1".into(), "\"a_I_1\"".into())
        );
        // Stored as the id, in JSON and in postcard, and read back.
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"a_I_1\"");
        let bytes = postcard::to_allocvec(&key).unwrap();
        assert_eq!(bytes, postcard::to_allocvec("a_I_1").unwrap());
        assert_eq!(postcard::from_bytes::<MeetingKey>(&bytes).unwrap(), key);
        // Ordered and looked up by id: "a_I_1" < "a_I_1x" < "b", as the ids are.
        let map: BTreeMap<MeetingKey, u8> = ["b", "a_I_1x", "a_I_1"]
            .into_iter()
            .zip(0..)
            .map(|(id, n)| (MeetingKey::new(id), n))
            .collect();
        let ids: Vec<&str> = map.keys().map(MeetingKey::id).collect();
        assert_eq!(ids, ["a_I_1", "a_I_1x", "b"]);
        assert_eq!(map.get("a_I_1x"), Some(&1));
        // A manifest's path shared, not copied; other paths refused.
        let path: SitePath = "meetings/b_I_2.html".into();
        let shared = MeetingKey::from_path(Arc::clone(&path)).unwrap();
        assert!(Arc::ptr_eq(shared.page(), &path));
        assert_eq!(shared.id(), "b_I_2");
        assert_eq!(MeetingKey::id_of_page(&path), Some("b_I_2"));
        for other in [
            "people/x.html",
            "meetings/x.csv",
            "meetings.html",
            "days/meetings/x.html",
        ] {
            assert!(MeetingKey::from_path(other.into()).is_none(), "{other}");
            assert_eq!(MeetingKey::id_of_page(other), None, "{other}");
        }
    }
}
