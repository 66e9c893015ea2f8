//! The time port: the core asks a [`Clock`] what time it is instead of calling `Utc::now()`, so that
//! tests can run a simulated week in seconds and token expiries follow the clock of whoever issued them.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Tells the current wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A shared clock handle, as the core passes it around.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock as a [`SharedClock`].
#[must_use]
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
