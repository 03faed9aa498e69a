//! Group commits: concurrent requests of one process (its worker slots claiming, or committing
//! their shards' outcomes) are combined into one transaction, as River's completer and
//! graphile-worker's batched jobs do, so a process with many slots pays Postgres's per-statement
//! and per-transaction costs once per batch instead of once per shard.
//!
//! There is no timer and no background task: a request joins the queue and waits for the batch
//! lock; whoever takes the lock runs everything queued at that moment (at most [`MAX_BATCH`])
//! as one batch and hands each request its own answer. A lone request is a batch of one, run at
//! once; requests that arrive while a batch is in flight form the next one. The batch runs in a
//! task of its own, so a caller that gives up waiting (its future dropped at shutdown) never
//! leaves the others of its batch without an answer.

use crate::error::{Result, StoreError};
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The most requests one batch takes (the rest form the next).
pub(super) const MAX_BATCH: usize = 64;

/// A request waiting for its batch, with where its answer goes.
type Waiting<R, T> = (R, oneshot::Sender<Result<T>>);

/// Combines concurrent requests `R` (answered with `T`) into batches.
pub(super) struct Combiner<R, T> {
    queue: Mutex<Vec<Waiting<R, T>>>,
    turn: tokio::sync::Mutex<()>,
}

impl<R, T> std::fmt::Debug for Combiner<R, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combiner").finish_non_exhaustive()
    }
}

impl<R, T> Default for Combiner<R, T> {
    fn default() -> Self {
        Combiner {
            queue: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl<R: Send + 'static, T: Send + 'static> Combiner<R, T> {
    /// Answers `request` as part of a batch run by `run`, which gets the requests of a batch in
    /// the order they came and must answer each one, in the same order.
    pub(super) async fn submit<F, Fut>(&self, request: R, run: F) -> Result<T>
    where
        F: Fn(Vec<R>) -> Fut,
        Fut: Future<Output = Vec<Result<T>>> + Send + 'static,
    {
        let (tx, mut rx) = oneshot::channel();
        self.queue.lock().expect("batch queue").push((request, tx));
        loop {
            let turn = self.turn.lock().await;
            match rx.try_recv() {
                Ok(answer) => return answer,
                Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Waiting<R, T>> = {
                let mut q = self.queue.lock().expect("batch queue");
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                // Ours is in a batch another caller runs right now, which answers it.
                drop(turn);
                return rx.await.unwrap_or_else(|_| Err(abandoned()));
            }
            let (requests, replies): (Vec<R>, Vec<_>) = batch.into_iter().unzip();
            let answers = tokio::spawn(run(requests));
            // A panic in the batch drops the replies: each caller gets `abandoned`.
            if let Ok(answers) = answers.await {
                debug_assert_eq!(answers.len(), replies.len(), "one answer per request");
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
            drop(turn);
        }
    }
}

/// The error of a request whose batch ended without answering it (the batch's task panicked).
fn abandoned() -> StoreError {
    StoreError::Database(sqlx::Error::WorkerCrashed)
}
