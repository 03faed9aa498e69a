//! Committing a shard's outcome: its results with its `done` state (and, when that completes the
//! execution, the summary and final health in the same transaction), or a failed attempt that is
//! retried, fails the shard, fails the execution or quarantines it; bounded error messages.

use super::*;

impl<S: Store> Engine<S> {
    /// Commits the outcome of a claimed shard: its results with its `done` state (and, when that
    /// completes the execution, the summary and final health in the same transaction), a failed
    /// attempt, or a stop.
    pub(super) async fn settle(
        &self,
        shard: ClaimedShard,
        outcome: ShardResult,
    ) -> Result<Settled> {
        let now = self.clock.now_ms();
        let store = self.store();
        let completed = Arc::new(Mutex::new(None));
        let (commit, step) = match outcome {
            Ok(out) => {
                quantd_data::failpoint::hit("shard-before-commit");
                let mine = out.scan_summary.map(|s| Arc::new(Mutex::new(Some(s))));
                let on_complete =
                    self.on_complete(&shard, mine.clone(), out.summary, completed.clone());
                let max_result_bytes = self.options.limits.max_result_bytes;
                if out.body.len() as u64 > max_result_bytes {
                    let message = limits::results_too_big(out.body.len() as u64, max_result_bytes);
                    return self
                        .commit_failure(&shard, ErrorClass::Resource, &message, false)
                        .await
                        .map(|(c, step)| self.settled(c, step, &completed));
                }
                let done = quantd_store::ShardDone {
                    bars: out.bars,
                    rows: out.rows,
                    body: &out.body,
                    max_result_bytes,
                };
                let c = match store
                    .complete_shard(&shard, &self.owner, now, &done, Some(on_complete))
                    .await
                {
                    Ok(Commit::OverLimit(total)) => {
                        let message = limits::results_too_big(total, max_result_bytes);
                        return self
                            .commit_failure(&shard, ErrorClass::Resource, &message, false)
                            .await
                            .map(|(c, step)| self.settled(c, step, &completed));
                    }
                    Ok(c) => c,
                    // The results could not be stored (too big for the store, disk full): the
                    // attempt fails with that error instead of staying `running`.
                    Err(e) => {
                        let message = format!("storing the shard's results failed: {e}");
                        return self
                            .commit_failure(&shard, e.class(), &message, false)
                            .await
                            .map(|(c, step)| self.settled(c, step, &completed));
                    }
                };
                // Not taken by the completing commit: keep the counts for the one that will be.
                if let (Commit::Committed(_), Some(mine)) = (&c, mine)
                    && let Some(summary) = mine.lock().expect("summary lock").take()
                {
                    self.scan_partials
                        .lock()
                        .expect("partials lock")
                        .entry(shard.execution.clone())
                        .or_default()
                        .insert(shard.idx, summary);
                }
                quantd_data::failpoint::hit("shard-after-commit");
                (
                    c,
                    Step::Done {
                        execution: shard.execution.clone(),
                        shard: shard.idx,
                    },
                )
            }
            Err(stop @ (ShardFailure::Cancelled | ShardFailure::Later(_))) => {
                // Stopped by a cancel, or by a pause: a paused (or since resumed) execution
                // gets the shard back in its queue, without counting an attempt; so does work
                // that goes on later, claimable from its time.
                let not_before = match stop {
                    ShardFailure::Later(at) => at,
                    _ => 0,
                };
                let state = self.execution(&shard.execution).await?.state;
                if state == ExecutionState::Cancelled {
                    store.stop_shard(&shard, &self.owner, now).await?;
                } else {
                    store
                        .release_shard_until(&shard, &self.owner, not_before)
                        .await?;
                }
                return Ok(Settled {
                    step: Step::Stopped {
                        execution: shard.execution.clone(),
                        shard: shard.idx,
                    },
                    ended: false,
                    health: false,
                    completed: None,
                });
            }
            Err(ShardFailure::Error(class, message)) => {
                self.commit_failure(&shard, class, &message, false).await?
            }
            Err(ShardFailure::Crash(message)) => {
                let message = format!("panicked: {message}");
                self.commit_failure(&shard, ErrorClass::Internal, &message, true)
                    .await?
            }
        };
        Ok(self.settled(commit, step, &completed))
    }

    /// What a commit did, with its events announced.
    pub(super) fn settled(
        &self,
        commit: Commit,
        step: Step,
        completed: &Mutex<Option<ExecutionRecord>>,
    ) -> Settled {
        match commit {
            Commit::Committed(events) => {
                use quantd_core::Event;
                let ended = events.iter().any(|e| {
                    matches!(
                        e.event,
                        Event::ExecutionCompleted { .. }
                            | Event::ExecutionFailed { .. }
                            | Event::ExecutionCancelled
                    )
                });
                let health = events
                    .iter()
                    .any(|e| matches!(e.event, Event::Health { .. }));
                self.broadcast(events);
                Settled {
                    step,
                    ended,
                    health,
                    completed: completed.lock().expect("record lock").take(),
                }
            }
            Commit::LeaseLost | Commit::OverLimit(_) => {
                if matches!(commit, Commit::LeaseLost) {
                    tracing::warn!(
                        execution = step.execution().map(|e| e.to_string()),
                        "lease lost: another worker took the shard after this one missed its \
                         heartbeats; this attempt's outcome was not written"
                    );
                }
                Settled {
                    step: Step::LeaseLost,
                    ended: false,
                    health: false,
                    completed: None,
                }
            }
        }
    }

    /// Records a failed attempt (`crash`: a panic, counted towards quarantine): retried after a
    /// backoff while its class and the policy allow, else failed for good, failing the execution
    /// (or quarantining it) as its policy says. The message is bounded in size.
    #[tracing::instrument(level = "debug", skip(self, shard, message), fields(execution = %shard.execution, shard = shard.idx, %class, crash))]
    pub(super) async fn commit_failure(
        &self,
        shard: &ClaimedShard,
        class: ErrorClass,
        message: &str,
        crash: bool,
    ) -> Result<(Commit, Step)> {
        let now = self.clock.now_ms();
        let rec = self.execution(&shard.execution).await?;
        let options: ExecutionOptions = serde_json::from_value(rec.options).unwrap_or_default();
        let unit = (self.random() >> 11) as f64 / (1u64 << 53) as f64;
        let quarantine_after = self.options.quarantine_after;
        // Crashes in a row: since one of the execution's shards last committed.
        let crashes = rec.crash_streak + u32::from(crash);
        let outcome = if crash && quarantine_after > 0 && crashes >= quarantine_after {
            FailureOutcome::Quarantine
        } else {
            match options.retry.next_delay(class, shard.attempt, unit) {
                Some(delay) => FailureOutcome::RetryAt(now + delay as i64),
                None if options.on_shard_failure == ShardFailurePolicy::Fail => {
                    FailureOutcome::FailExecution
                }
                None => FailureOutcome::Continue,
            }
        };
        let bounded = quantd_core::bounded_message(message, self.options.max_error_message_bytes);
        let message = if outcome == FailureOutcome::Quarantine {
            std::borrow::Cow::Owned(format!(
                "quarantined after {crashes} crashes in a row (`quantd resume --force {}` runs it again): {bounded}",
                shard.execution
            ))
        } else {
            bounded
        };
        if crash || class == ErrorClass::Internal {
            // A bug of quantd's, not of the user's code or data: error reporting picks it up.
            tracing::error!(execution = %shard.execution, shard = shard.idx, attempt = shard.attempt,
                %class, crash, message = %message, "shard failed");
        } else {
            tracing::warn!(execution = %shard.execution, shard = shard.idx, attempt = shard.attempt,
                %class, crash, message = %message, "shard failed");
        }
        if matches!(outcome, FailureOutcome::RetryAt(_)) {
            trace::observe_retry(class);
        }
        let failure = quantd_store::AttemptFailure {
            class,
            message: &message,
            crash,
            outcome,
        };
        let c = self
            .store()
            .fail_shard(shard, &self.owner, now, &failure)
            .await?;
        let step = Step::Failed {
            execution: shard.execution.clone(),
            shard: shard.idx,
            class,
        };
        Ok((c, step))
    }

    /// What the commit of `shard` stores if it completes the execution: the final health
    /// snapshot, and for scans the summary merged from the counts of every committed shard (when
    /// this engine holds counts for all of them; else `finalize` counts the stored rows).
    pub(super) fn on_complete(
        &self,
        shard: &ClaimedShard,
        mine: Option<Arc<Mutex<Option<crate::scan::SummaryBuilder>>>>,
        given: Option<serde_json::Value>,
        completed: Arc<Mutex<Option<ExecutionRecord>>>,
    ) -> OnComplete {
        let partials = self.scan_partials.clone();
        let jobs_pack_tickers = mine.as_ref().and_then(|_| {
            self.jobs
                .lock()
                .expect("jobs lock")
                .get(&shard.execution)
                .and_then(|j| j.signals_template())
                .map(|t| t.tickers.len() as u64)
        });
        let (id, idx, now) = (shard.execution.clone(), shard.idx, self.clock.now_ms());
        Box::new(move |rec, shards| {
            let h = health::Health::of(rec, shards, now);
            let health = HealthSnapshot {
                score: h.score,
                band: h.band.to_string(),
                body: serde_json::to_value(&h).expect("health serializes"),
            };
            let summary = (|| {
                let mine = mine?.lock().expect("summary lock").take()?;
                let mut parts = partials
                    .lock()
                    .expect("partials lock")
                    .remove(&id)
                    .unwrap_or_default();
                parts.insert(idx, mine);
                // Counts exist only for committed shards, one per index: equal counts mean
                // equal sets.
                if parts.len() != rec.shards_done as usize {
                    return None;
                }
                let tickers = kinds::scan::tickers_scanned(rec, jobs_pack_tickers?)?;
                let mut builder = crate::scan::SummaryBuilder::default();
                for part in parts.into_values() {
                    builder.merge(part);
                }
                Some(
                    serde_json::to_value(builder.finish(tickers, rec.bars))
                        .expect("summary serializes"),
                )
            })()
            .or(given);
            // The record as a read after the commit returns it (the summary as stored).
            let mut rec = rec.clone();
            if let Some(s) = &summary {
                rec.summary = serde_json::from_str(&s.to_string()).ok();
            }
            *completed.lock().expect("record lock") = Some(rec);
            Completion { summary, health }
        })
    }
}
