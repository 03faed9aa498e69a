//! Time as the engine sees it: the system clock in production, a manual one in tests so backoff,
//! leases and the worker pool's waits can be stepped without sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::Notify;

/// A future that resolves when a [`Clock`] has moved on.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current time in Unix milliseconds, and of waits measured on it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now_ms(&self) -> i64;
    /// Resolves once `ms` milliseconds have passed on this clock.
    fn sleep(&self, ms: u64) -> Sleep<'_>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn sleep(&self, ms: u64) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(ms)))
    }
}

/// A clock that moves only when told (tests); its sleeps end when it is advanced past them.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    moved: Notify,
}

impl ManualClock {
    /// A manual clock at `start` ms.
    pub fn new(start: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: AtomicI64::new(start),
            moved: Notify::new(),
        })
    }
    /// The current time.
    pub fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
    /// Moves the clock forward, ending the sleeps it passes.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now()
    }

    fn sleep(&self, ms: u64) -> Sleep<'_> {
        let until = self
            .now()
            .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        Box::pin(async move {
            loop {
                let moved = self.moved.notified();
                if self.now() >= until {
                    return;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_ends_only_when_the_clock_passes_it() {
        let clock = ManualClock::new(1_000);
        let mut sleep = clock.sleep(500);
        let waker = futures_task_noop();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(499);
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(1);
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
    }

    fn futures_task_noop() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
