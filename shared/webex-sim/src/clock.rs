//! The simulator's clock: real time, or a simulated time that tests set and advance.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// A clock shared by the simulator and the test that drives it. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct SimClock {
    simulated: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl SimClock {
    /// Follows the machine's clock (until advanced or set).
    #[must_use]
    pub fn real() -> Self {
        Self {
            simulated: Arc::new(Mutex::new(None)),
        }
    }

    /// Stands still at `at` until advanced or set.
    #[must_use]
    pub fn simulated(at: DateTime<Utc>) -> Self {
        Self {
            simulated: Arc::new(Mutex::new(Some(at))),
        }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().unwrap_or_else(Utc::now)
    }

    /// Moves time forward by `by` (a real clock becomes simulated from its current time).
    pub fn advance(&self, by: chrono::Duration) {
        let mut time = self.lock_mut();
        let now = time.unwrap_or_else(Utc::now);
        *time = Some(now + by);
    }

    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock_mut() = Some(at);
    }

    fn lock(&self) -> Option<DateTime<Utc>> {
        *self
            .simulated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_mut(&self) -> std::sync::MutexGuard<'_, Option<DateTime<Utc>>> {
        self.simulated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = SimClock::simulated(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(chrono::Duration::minutes(5));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(5));
    }
}
