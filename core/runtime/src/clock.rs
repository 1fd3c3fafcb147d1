//! Time for the runtime: the system clock, or a manual clock tests move by hand.
//!
//! Everything in the runtime that waits for a moment (approval windows, schedules,
//! TTLs) asks the clock, so a test can jump a 24-hour approval window in a millisecond.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The runtime's clock. Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Manual {
        now: AtomicI64,
        tick: watch::Sender<i64>,
    },
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::System => f.write_str("Clock::System"),
            Inner::Manual { now, .. } => write!(f, "Clock::Manual({})", now.load(Ordering::SeqCst)),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Inner::System))
    }

    /// A manual clock starting at `start_ms`; it moves only by [`Clock::advance`].
    pub fn manual(start_ms: Millis) -> Self {
        let (tick, _) = watch::channel(start_ms);
        Clock(Arc::new(Inner::Manual {
            now: AtomicI64::new(start_ms),
            tick,
        }))
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> Millis {
        match &*self.0 {
            Inner::System => (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            Inner::Manual { now, .. } => now.load(Ordering::SeqCst),
        }
    }

    /// Now, as RFC 3339 UTC text.
    pub fn now_rfc3339(&self) -> String {
        format_ms(self.now_ms())
    }

    /// Moves a manual clock forward and wakes everything sleeping on it.
    ///
    /// # Panics
    /// On the system clock.
    pub fn advance(&self, by: std::time::Duration) {
        match &*self.0 {
            Inner::System => panic!("Clock::advance needs a manual clock"),
            Inner::Manual { now, tick } => {
                let t =
                    now.fetch_add(by.as_millis() as i64, Ordering::SeqCst) + by.as_millis() as i64;
                tick.send_replace(t);
            }
        }
    }

    /// Sleeps until the clock reads at least `deadline`.
    pub async fn sleep_until(&self, deadline: Millis) {
        match &*self.0 {
            Inner::System => {
                let wait = deadline - self.now_ms();
                if wait > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                }
            }
            Inner::Manual { tick, .. } => {
                let mut rx = tick.subscribe();
                let _ = rx.wait_for(|t| *t >= deadline).await;
            }
        }
    }
}

/// RFC 3339 text (UTC, `Z`, millisecond precision dropped when zero) for epoch millis.
pub fn format_ms(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = if ms % 1000 == 0 {
        t.replace_nanosecond(0).unwrap_or(t)
    } else {
        t
    };
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses RFC 3339 text to epoch millis.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_ms(1_777_118_400_000), "2026-04-25T12:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-04-25T12:00:00Z"),
            Some(1_777_118_400_000)
        );
    }

    #[tokio::test]
    async fn manual_clock_wakes_sleepers() {
        let c = Clock::manual(1000);
        let c2 = c.clone();
        let h = tokio::spawn(async move { c2.sleep_until(5000).await });
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        c.advance(std::time::Duration::from_secs(4));
        h.await.unwrap();
        assert_eq!(c.now_ms(), 5000);
    }
}
