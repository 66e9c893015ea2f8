//! The render cache's string table: a participant session's summary holds its name, email, client,
//! network and the like as indexes into one table, so that each distinct string is stored once.
//! Sessions repeat the same few clients, networks and regions and the same people thousands of times;
//! a summary of indexes is a third of the size of one of strings, and the cache holds every session of
//! the history.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A string of a [`Texts`] table; [`Text::NONE`] is the empty string (and "not given").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(u32);

impl Text {
    /// The empty string, also what Webex did not say.
    pub const NONE: Self = Self(0);

    /// Its place in the table (for a packed form of what holds it).
    pub(super) fn index(self) -> u32 {
        self.0
    }

    /// The text at `index` of the table.
    pub(super) fn at(index: u32) -> Self {
        Self(index)
    }
}

/// Distinct strings, each with its [`Text`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Texts {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl From<Vec<String>> for Texts {
    fn from(list: Vec<String>) -> Self {
        let mut texts = Self::default();
        for text in list {
            texts.push(text);
        }
        texts
    }
}

impl From<Texts> for Vec<String> {
    fn from(texts: Texts) -> Self {
        texts.list
    }
}

impl Texts {
    fn push(&mut self, text: String) -> Text {
        if self.list.is_empty() {
            self.list.push(String::new());
            self.index.insert(String::new(), 0);
        }
        if let Some(at) = self.index.get(&text) {
            return Text(*at);
        }
        let at = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.index.insert(text.clone(), at);
        self.list.push(text);
        Text(at)
    }

    /// The [`Text`] of `text`, added when new.
    pub fn intern(&mut self, text: &str) -> Text {
        if text.is_empty() {
            return Text::NONE;
        }
        match self.index.get(text) {
            Some(at) => Text(*at),
            None => self.push(text.to_owned()),
        }
    }

    /// [`Texts::intern`] of an optional string (`None` is [`Text::NONE`]).
    pub fn intern_opt(&mut self, text: Option<&str>) -> Text {
        text.map_or(Text::NONE, |t| self.intern(t))
    }

    /// The string (empty for [`Text::NONE`] or a text of another table).
    #[must_use]
    pub fn get(&self, text: Text) -> &str {
        self.list.get(text.0 as usize).map_or("", String::as_str)
    }

    /// The string, `None` when empty.
    #[must_use]
    pub fn opt(&self, text: Text) -> Option<&str> {
        Some(self.get(text)).filter(|t| !t.is_empty())
    }

    /// The CRC-32 of the table's first `len` strings (each its length and bytes), or `None` when it
    /// holds fewer: what a part of the render cache, whose summaries use those strings, checks
    /// before it is read over this table.
    #[must_use]
    pub fn prefix_crc(&self, len: usize) -> Option<u32> {
        let mut crc = crc32fast::Hasher::new();
        for text in self.list.get(..len)? {
            crc.update(&(text.len() as u64).to_le_bytes());
            crc.update(text.as_bytes());
        }
        Some(crc.finalize())
    }

    /// Distinct strings held (the empty one included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no string was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.len() <= 1
    }

    /// A table of only the texts `used` visits (through the closure it is given, which must map each
    /// text to its new value), so that strings of meetings no longer cached do not pile up.
    pub fn compact(&mut self, used: impl FnOnce(&mut dyn FnMut(Text) -> Text)) {
        let old = std::mem::take(self);
        let mut remap: HashMap<u32, Text> = HashMap::new();
        used(&mut |text| {
            *remap
                .entry(text.0)
                .or_insert_with(|| self.intern(old.get(text)))
        });
    }
}

/// Which strings of a table are used, marked as the summaries that use them are read: a table
/// whose strings are mostly unused is compacted ([`Texts::compact`]).
#[derive(Debug)]
pub struct UsedTexts {
    used: Vec<bool>,
    count: usize,
}

impl UsedTexts {
    /// None of `texts` used yet (but the empty string).
    #[must_use]
    pub fn new(texts: &Texts) -> Self {
        let mut used = vec![false; texts.len()];
        let count = used.first_mut().map_or(0, |none| {
            *none = true;
            1
        });
        Self { used, count }
    }

    /// Marks `text` as used.
    pub fn mark(&mut self, text: Text) {
        if let Some(used) = self.used.get_mut(text.0 as usize)
            && !*used
        {
            *used = true;
            self.count += 1;
        }
    }

    /// Whether more strings are unused than used.
    #[must_use]
    pub fn mostly_unused(&self) -> bool {
        self.used.len() - self.count > self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_string_is_stored_once_and_survives_a_round_trip() {
        let mut texts = Texts::default();
        let wifi = texts.intern("wifi");
        assert_eq!(texts.intern("wifi"), wifi);
        assert_eq!(texts.intern(""), Text::NONE);
        assert_eq!(texts.intern_opt(None), Text::NONE);
        let zoe = texts.intern("Zoë 🎉");
        assert_eq!((texts.get(wifi), texts.get(zoe)), ("wifi", "Zoë 🎉"));
        assert_eq!(texts.opt(Text::NONE), None);
        let json = serde_json::to_string(&texts).unwrap();
        let back: Texts = serde_json::from_str(&json).unwrap();
        assert_eq!(back, texts);
        let mut again = back;
        assert_eq!(
            again.intern("wifi"),
            wifi,
            "the index is rebuilt on reading"
        );
    }

    #[test]
    fn compacting_keeps_the_used_strings_only() {
        let mut texts = Texts::default();
        let mut used = [texts.intern("a"), texts.intern("b"), texts.intern("c")];
        used[1] = used[2];
        texts.compact(|remap| {
            for text in &mut used {
                *text = remap(*text);
            }
        });
        assert_eq!(texts.len(), 3, "\"\", a and c");
        assert_eq!((texts.get(used[0]), texts.get(used[2])), ("a", "c"));
    }
}
