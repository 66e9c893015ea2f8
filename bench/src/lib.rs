//! What the bench binaries share: a clock that starts at a simulated time.

use std::time::Instant;

use chrono::{DateTime, Utc};
use webex_quality::clock::Clock;

/// Simulated time: `start`, plus the real time elapsed since the process began.
#[derive(Debug)]
pub struct StartedAt {
    start: DateTime<Utc>,
    began: Instant,
}

impl StartedAt {
    /// A clock at the time given as the process's first argument (RFC 3339), started at `began`.
    ///
    /// # Errors
    /// When the argument is missing or not a time; the message names `usage`.
    pub fn from_first_argument(
        began: Instant,
        usage: &str,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let start = std::env::args()
            .nth(1)
            .ok_or_else(|| format!("usage: {usage} TIME (RFC 3339)"))?
            .parse::<DateTime<Utc>>()?;
        Ok(Self { start, began })
    }
}

impl Clock for StartedAt {
    fn now(&self) -> DateTime<Utc> {
        self.start + self.began.elapsed()
    }
}
