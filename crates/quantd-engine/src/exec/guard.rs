//! The panic boundary around a shard: a panic while a shard runs or commits must fail that shard
//! (class `internal`, with the panic's message), never unwind through the worker that ran it.
//!
//! Shard work that runs on the blocking pool already comes back as a `JoinError`; this module
//! covers the async parts too (building the job, committing, summarising), where a panic would
//! otherwise end the task that polls them.

use super::jobs::ShardFailure;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `fut` to completion, turning a panic into `Err(message)`.
///
/// The future is polled behind [`AssertUnwindSafe`]: after a panic it is dropped and never polled
/// again, and the engine state it touched is guarded by its own locks and by store transactions
/// (an unfinished transaction rolls back when dropped).
pub(crate) async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, String> {
    CatchPanic {
        inner: Box::pin(fut),
    }
    .await
}

struct CatchPanic<F: Future> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// A shard's work that ended without a result on the blocking pool: a panic is a
/// [`ShardFailure::Crash`], a cancelled task an internal error.
pub(crate) fn join_failure(e: tokio::task::JoinError) -> ShardFailure {
    if e.is_panic() {
        ShardFailure::Crash(panic_message(e.into_panic().as_ref()))
    } else {
        ShardFailure::Error(quantd_core::ErrorClass::Internal, e.to_string())
    }
}

/// The message of a panic payload (`&str` or `String`; anything else is "unknown panic").
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_its_message_and_a_value_passes_through() {
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
        let caught = catch_panic(async {
            tokio::task::yield_now().await;
            panic!("boom {}", 42);
        })
        .await;
        assert_eq!(caught, Err::<(), _>("boom 42".to_string()));
        let caught = catch_panic(async { std::panic::panic_any(3u8) }).await;
        assert_eq!(caught, Err::<(), _>("unknown panic".to_string()));
    }
}
