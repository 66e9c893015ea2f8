//! Buffers for rendered files that grow by a quarter once they pass 1 MB, not by doubling.
//!
//! A `String` or `Vec` that runs out of room doubles, so a file of a little more than a power of
//! two ends with nearly twice its size allocated, and while it grows the old buffer and the new one
//! are both held: a 1.4 MB meeting page whose estimate was 1.2 MB held 3.5 MB at that moment, and
//! the last 7 days' JSON export (2.5 MB at 4,000 meetings) 4 MB at the end. Past 1 MB these grow
//! by a quarter of what they hold: a few more copies of a few large files, against at most a
//! quarter of their size spare.

use std::fmt;
use std::io;

/// Below this many bytes a buffer doubles as a `Vec` does (small files: fewer copies).
const DOUBLING_UP_TO: usize = 1 << 20;

/// How much more room a buffer holding `len` bytes asks for when `more` do not fit.
fn extra(len: usize, more: usize) -> usize {
    let step = if len < DOUBLING_UP_TO { len } else { len / 4 };
    more.max(step)
}

/// Text written with [`fmt::Write`] (a page rendered by its template).
#[derive(Debug, Default)]
pub(super) struct GrowingString(String);

impl GrowingString {
    /// An empty buffer with room for `capacity` bytes.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self(String::with_capacity(capacity))
    }

    /// What was written.
    pub(super) fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Write for GrowingString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.capacity() - self.0.len() < s.len() {
            self.0.reserve_exact(extra(self.0.len(), s.len()));
        }
        self.0.push_str(s);
        Ok(())
    }
}

/// Bytes written with [`io::Write`] (an export).
#[derive(Debug, Default)]
pub(super) struct GrowingBytes(Vec<u8>);

impl GrowingBytes {
    /// What was written.
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl io::Write for GrowingBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.capacity() - self.0.len() < buf.len() {
            self.0.reserve_exact(extra(self.0.len(), buf.len()));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use std::io::Write as _;

    #[test]
    fn past_a_megabyte_a_buffer_grows_by_a_quarter_not_by_doubling() {
        let line = "x".repeat(1000);
        let mut text = GrowingString::with_capacity(0);
        let mut bytes = GrowingBytes::default();
        for _ in 0..3000 {
            text.write_str(&line).unwrap();
            bytes.write_all(line.as_bytes()).unwrap();
        }
        let (text, bytes) = (text.into_string(), bytes.into_bytes());
        assert_eq!((text.len(), bytes.len()), (3_000_000, 3_000_000));
        assert_eq!(text, line.repeat(3000), "what was written, in order");
        // Doubling from 1 KB would end at 4 MB (4,096,000) for 3 MB.
        for capacity in [text.capacity(), bytes.capacity()] {
            assert!(capacity < 3_000_000 * 5 / 4 + 1000, "{capacity}");
        }
        // Below a megabyte they double, as a Vec does.
        assert_eq!(extra(1000, 10), 1000);
        assert_eq!(extra(4 << 20, 10), 1 << 20);
        assert_eq!(extra(4 << 20, 2 << 20), 2 << 20);
    }
}
