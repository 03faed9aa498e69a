//! Submitting: a request is checked (its kind's fields, the limits), its names resolved (code,
//! pack), the freshness gate applied, its job built and planned by its kind's module
//! ([`kinds`]), and the execution stored with its shards (the first one claimed by this engine
//! when the caller runs it here).

use super::*;

impl<S: Store> Engine<S> {
    /// Submits a [`SubmitRequest`] of `workspace` for any worker to run: the one entry of every
    /// surface (the API's body, the CLI's flags, MCP's arguments). Checks it (fields, limits,
    /// names, the freshness gate) and stores the execution with its planned shards; nothing is
    /// stored when a check fails. With `reuse`, returns a completed execution of `workspace`
    /// with the same fingerprint instead.
    pub async fn submit_request(
        &self,
        workspace: &str,
        request: SubmitRequest,
    ) -> Result<Submitted> {
        self.submit_with(workspace, request, false).await
    }

    /// [`Engine::submit_request`] for a caller that runs the execution here right away
    /// ([`Engine::run`], as the CLI does): the first shard is claimed in the transaction that
    /// creates the execution, so work starts one store round trip sooner. The claim is this
    /// engine's like any other: its next claim takes it, heartbeats extend it, and if the process
    /// dies first, recovery returns it to the queue.
    pub async fn start_request(
        &self,
        workspace: &str,
        request: SubmitRequest,
    ) -> Result<Submitted> {
        self.submit_with(workspace, request, true).await
    }

    /// [`Engine::submit_request`] in the engine's own workspace.
    pub async fn submit(&self, request: SubmitRequest) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_with(&workspace, request, false).await
    }

    /// [`Engine::start_request`] in the engine's own workspace.
    pub async fn start(&self, request: SubmitRequest) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_with(&workspace, request, true).await
    }

    #[tracing::instrument(level = "debug", skip(self, request), fields(workspace = %workspace, kind = %request.kind))]
    async fn submit_with(
        &self,
        workspace: &str,
        request: SubmitRequest,
        claim_first: bool,
    ) -> Result<Submitted> {
        with_kind!(request.kind, |K| {
            self.submit_kind::<K>(workspace, request, claim_first, None)
                .await
        })
    }

    /// Submits the child execution of a pattern's step: as [`Engine::submit_request`], linked
    /// to its parent (`child.link`), with the step's retry policy, nested one level deeper.
    pub(crate) async fn submit_child(
        &self,
        workspace: &str,
        request: SubmitRequest,
        child: &ChildOf,
    ) -> Result<Submitted> {
        Box::pin(async move {
            with_kind!(request.kind, |K| {
                self.submit_kind::<K>(workspace, request, false, Some(child))
                    .await
            })
        })
        .await
    }

    async fn submit_kind<K: Kind>(
        &self,
        workspace: &str,
        request: SubmitRequest,
        claim_first: bool,
        child: Option<&ChildOf>,
    ) -> Result<Submitted> {
        kinds::check_fields(&request, K::FIELDS)?;
        let mut options = request.execution_options(&self.options.retry);
        if let Some(retry) = child.and_then(|c| c.retry.as_ref()) {
            options.retry = retry.clone();
        }
        self.options
            .limits
            .check_request(&request, &options.retry)?;
        let mut warnings = Vec::new();
        let (pack, reader) = if K::READS_PACK {
            let pack = self.packs.find(request.pack.as_deref()).await?;
            match pack.state {
                PackState::Warming | PackState::Error => {
                    self.packs.open_reader(&pack)?;
                }
                PackState::Stale => warnings.push(format!(
                    "pack `{}` ({}) is stale: a newer pack of that name exists",
                    pack.name,
                    pack.id.short()
                )),
                PackState::Fresh => {}
            }
            let reader = self.packs.open_reader(&pack)?;
            (Some(pack), Some(reader))
        } else {
            (None, None)
        };
        let reuse = request.reuse;
        let mut spec = K::resolve(self, workspace, pack.as_ref(), request).await?;
        if let Some(c) = child {
            K::nest(&mut spec, c.depth)?;
        }
        let id = self.new_execution_id();
        let job = K::build(self, &id, &spec, reader)?;
        let stored = kinds::StoredSpec::of::<K>(&spec);
        if reuse
            && let Some(done) = self
                .store()
                .completed_by_fingerprint(&stored.fingerprint)
                .await?
            && done.workspace == workspace
        {
            return Ok(Submitted {
                execution: done,
                reused: true,
                warnings,
            });
        }
        let pack_id = pack.map(|p| p.id.to_string()).unwrap_or_default();
        let submitted = self
            .create(
                workspace,
                id,
                stored,
                pack_id,
                &options,
                job,
                warnings,
                claim_first,
                child.map(|c| &c.link),
            )
            .await?;
        if K::ORCHESTRATED {
            // Its first steps start now; a failure to advance is the store's, and the watcher
            // of whichever scheduler runs next advances it again.
            if let Err(e) = self.advance_pattern(&submitted.execution.id).await {
                tracing::warn!(execution = %submitted.execution.id, error = %e, "starting the pattern's steps failed");
            }
            let execution = self.execution(&submitted.execution.id).await?;
            return Ok(Submitted {
                execution,
                ..submitted
            });
        }
        Ok(submitted)
    }

    pub(super) fn new_execution_id(&self) -> ExecutionId {
        ExecutionId::from_parts(
            self.clock.now_ms() as u64,
            self.random() as u128 | ((self.random() as u128) << 64),
        )
    }

    /// Stores a new execution with its planned shards (the first one claimed by this engine, with
    /// `claim_first`) and announces it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create(
        &self,
        workspace: &str,
        id: ExecutionId,
        spec: kinds::StoredSpec,
        pack_id: String,
        options: &ExecutionOptions,
        job: Arc<dyn Job>,
        warnings: Vec<String>,
        claim_first: bool,
        parent: Option<&quantd_store::ParentLink>,
    ) -> Result<Submitted> {
        let now = self.clock.now_ms();
        let shards = job.plan();
        // The first shard of an execution started here can compute while its claim commits.
        let ahead = match shards.first() {
            Some(first) if claim_first && job.may_run_ahead() && self.fault.is_none() => {
                let (job, payload, ctl) = (job.clone(), first.clone(), self.shard_control(&id, 0));
                Some(tokio::task::spawn_blocking(move || job.run(&payload, &ctl)))
            }
            _ => None,
        };
        let new = NewExecution {
            orchestrated: spec.orchestrated,
            parent: parent.cloned(),
            id: id.clone(),
            workspace: workspace.to_string(),
            kind: spec.kind,
            name: spec.name,
            fingerprint: spec.fingerprint,
            spec: spec.value,
            pack_id,
            code_version: spec.code_version,
            options: serde_json::to_value(options).expect("options serialize"),
            shards,
            now,
            first_claim: claim_first.then(|| Lease {
                owner: self.owner.clone(),
                until: now + self.options.lease_ms,
            }),
        };
        let created = match self.store().create_execution(&new).await {
            Ok(c) => c,
            Err(e) => {
                // Nothing was stored: stop the work started ahead and forget it.
                if let Some(flag) = self.cancels.lock().expect("cancel lock").remove(&id) {
                    flag.store(true, Ordering::SeqCst);
                }
                self.live
                    .lock()
                    .expect("live lock")
                    .remove(&(id.clone(), 0));
                return Err(e.into());
            }
        };
        self.jobs.lock().expect("jobs lock").insert(id.clone(), job);
        if let Some(shard) = created.claimed {
            if let Some(work) = ahead {
                self.running_ahead
                    .lock()
                    .expect("ahead lock")
                    .insert(id.clone(), work);
            }
            self.claimed_at_start
                .lock()
                .expect("claims lock")
                .push(shard);
        }
        self.broadcast(created.events);
        Ok(Submitted {
            execution: created.record,
            reused: false,
            warnings,
        })
    }
}

/// What makes a submission the child execution of a pattern's step.
#[derive(Debug, Clone)]
pub(crate) struct ChildOf {
    /// Its parent and step.
    pub(crate) link: quantd_store::ParentLink,
    /// The depth of patterns it runs in (the parent's depth + 1).
    pub(crate) depth: u32,
    /// The step's retry policy, replacing the engine's.
    pub(crate) retry: Option<RetryPolicy>,
}
