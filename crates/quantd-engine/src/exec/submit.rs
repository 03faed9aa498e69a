//! Submitting: a request is checked against the limits, its names resolved (code, pack), the
//! freshness gate applied, its job built and planned, and the execution stored with its shards
//! (the first one claimed by this engine when the caller runs it here).

use super::*;

impl<S: Store> Engine<S> {
    /// Submits a [`SubmitRequest`](super::request::SubmitRequest) of `workspace` for any worker
    /// to run: the one entry of every surface (the API's body, the CLI's flags, MCP's
    /// arguments). Checks it (fields, limits, names, the freshness gate) and stores the
    /// execution with its planned shards; nothing is stored when a check fails.
    pub async fn submit_request(
        &self,
        workspace: &str,
        request: super::request::SubmitRequest,
    ) -> Result<Submitted> {
        self.submit_with(workspace, request.into_spec()?, false)
            .await
    }

    /// [`Engine::submit_request`] for a caller that runs the execution here right away
    /// ([`Engine::run`]): its first shard is claimed as it is created.
    pub async fn start_request(
        &self,
        workspace: &str,
        request: super::request::SubmitRequest,
    ) -> Result<Submitted> {
        self.submit_with(workspace, request.into_spec()?, true)
            .await
    }

    /// Validates a request, applies the freshness gate, and creates the execution with its
    /// planned shards (or returns a completed one with the same fingerprint, with `reuse`).
    pub async fn submit(&self, request: SubmitSpec) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_in(&workspace, request).await
    }

    /// [`Engine::submit`] for a caller that runs the execution in this engine right away
    /// ([`Engine::run`], as the CLI does): the first shard is claimed in the transaction that
    /// creates the execution, so work starts one store round trip sooner. The claim is this
    /// engine's like any other: its next claim takes it, heartbeats extend it, and if the process
    /// dies first, recovery returns it to the queue.
    pub async fn start(&self, request: SubmitSpec) -> Result<Submitted> {
        let workspace = self.options.workspace.clone();
        self.submit_with(&workspace, request, true).await
    }

    /// [`Engine::submit`] on behalf of `workspace` (the API serves many): stored code resolves
    /// in that workspace, the execution belongs to it, and `reuse` only returns its own.
    pub async fn submit_in(&self, workspace: &str, request: SubmitSpec) -> Result<Submitted> {
        self.submit_with(workspace, request, false).await
    }

    #[tracing::instrument(level = "debug", skip(self, request), fields(workspace = %workspace))]
    pub(super) async fn submit_with(
        &self,
        workspace: &str,
        request: SubmitSpec,
        claim_first: bool,
    ) -> Result<Submitted> {
        self.options.limits.check_request(&request)?;
        if let spec::JobRequest::Import(import) = &request.job {
            return self
                .submit_import(workspace, import, &request.options, claim_first)
                .await;
        }
        let mut warnings = Vec::new();
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
        let resolved = spec::resolve(self.store(), workspace, &request, &pack).await?;
        let job = jobs::build(&resolved, reader, &self.options, &self.python)?;
        let fingerprint = resolved.fingerprint();
        if request.reuse
            && let Some(done) = self.store().completed_by_fingerprint(&fingerprint).await?
            && done.workspace == workspace
        {
            return Ok(Submitted {
                execution: done,
                reused: true,
                warnings,
            });
        }
        let id = self.new_execution_id();
        self.create(
            workspace,
            id,
            &resolved,
            fingerprint,
            pack.id.to_string(),
            &request.options,
            job,
            warnings,
            claim_first,
        )
        .await
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
        resolved: &ResolvedSpec,
        fingerprint: String,
        pack_id: String,
        options: &ExecutionOptions,
        job: Arc<dyn Job>,
        warnings: Vec<String>,
        claim_first: bool,
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
            id: id.clone(),
            workspace: workspace.to_string(),
            kind: resolved.kind(),
            name: resolved.code_name(),
            spec: serde_json::to_value(resolved).expect("specs serialize"),
            fingerprint,
            pack_id,
            code_version: resolved.code_version(),
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

    /// An import execution: no input pack and no freshness gate; the fingerprint names the
    /// upload's content and options, but an import is never reused (it is cheap when the content
    /// is unchanged: the pack is found by its hash and nothing is written).
    pub(super) async fn submit_import(
        &self,
        workspace: &str,
        request: &import::ImportRequest,
        options: &ExecutionOptions,
        claim_first: bool,
    ) -> Result<Submitted> {
        crate::packs::check_name(&request.name)?;
        let resolved = ResolvedSpec::Import(request.into());
        let fingerprint = resolved.fingerprint();
        let id = self.new_execution_id();
        let job = self.import_job(&resolved, &id);
        self.create(
            workspace,
            id,
            &resolved,
            fingerprint,
            String::new(),
            options,
            job,
            Vec::new(),
            claim_first,
        )
        .await
    }

    pub(super) fn import_job(&self, resolved: &ResolvedSpec, id: &ExecutionId) -> Arc<dyn Job> {
        let ResolvedSpec::Import(spec) = resolved else {
            unreachable!("import_job is called for imports");
        };
        Arc::new(import::ImportJob::new(
            spec.clone(),
            id.clone(),
            self.packs.clone(),
            self.events.clone(),
            self.clock.clone(),
        ))
    }
}
