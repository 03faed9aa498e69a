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
        let prepared = self
            .prepare_kind::<K>(workspace, request, child, &mut PackLookups::default())
            .await?;
        let planned = match prepared {
            Prepared::Reused(done) => return Ok(*done),
            Prepared::New(planned) => planned,
        };
        let submitted = self
            .create(workspace, *planned, claim_first, child.map(|c| &c.link))
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

    /// Prepares the child executions of a pattern's step (its `for_each` items, all of one kind
    /// and not patterns themselves) as [`Engine::submit_child`] would, each request on its own
    /// (an error is that item's), their packs looked up once.
    pub(crate) async fn prepare_children(
        &self,
        workspace: &str,
        children: Vec<(SubmitRequest, ChildOf)>,
    ) -> Vec<Result<Prepared>> {
        let mut packs = PackLookups::default();
        let mut prepared = Vec::with_capacity(children.len());
        for (request, child) in children {
            let one = async {
                with_kind!(request.kind, |K| {
                    if K::ORCHESTRATED {
                        Err(EngineError::Internal(
                            "a pattern's children are prepared one by one".into(),
                        ))
                    } else {
                        self.prepare_kind::<K>(workspace, request, Some(&child), &mut packs)
                            .await
                    }
                })
            }
            .await;
            prepared.push(one);
        }
        prepared
    }

    /// Checks, resolves and builds a submission without storing it: a completed execution with
    /// its fingerprint when `reuse` finds one, else the execution to create.
    async fn prepare_kind<K: Kind>(
        &self,
        workspace: &str,
        request: SubmitRequest,
        child: Option<&ChildOf>,
        packs: &mut PackLookups,
    ) -> Result<Prepared> {
        kinds::check_fields(&request, K::FIELDS)?;
        let request = self.with_workspace_defaults(workspace, request).await?;
        let mut options = request.execution_options(&self.options.retry);
        if let Some(retry) = child.and_then(|c| c.retry.as_ref()) {
            options.retry = retry.clone();
        }
        self.options
            .limits
            .check_request(&request, &options.retry)?;
        let mut warnings = Vec::new();
        let (pack, reader) = if K::READS_PACK {
            let pack = packs.find(self, request.pack.as_deref()).await?;
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
            let reader = self.packs.reader(&pack).await?;
            self.check_environment(&pack.id).await?;
            (Some(pack), Some(reader))
        } else {
            (None, None)
        };
        let reuse = request.reuse;
        let mut spec = K::resolve(self, workspace, pack.as_ref(), request).await?;
        if let Some(c) = child {
            K::nest(&mut spec, c.depth)?;
        }
        if !options.sandbox.is_empty() && !K::sandboxed(&spec) {
            return Err(crate::exec::sandbox::refuse_unsandboxed(K::KIND));
        }
        let id = self.new_execution_id();
        let job = K::build(self, &id, &spec, reader, &options.sandbox)?;
        let stored = kinds::StoredSpec::of::<K>(&spec);
        self.check_evaluated(
            workspace,
            K::KIND,
            stored
                .name
                .as_deref()
                .filter(|_| stored.code_version.is_some()),
            stored.code_version.as_deref(),
        )
        .await?;
        if reuse
            && let Some(done) = self
                .store()
                .completed_by_fingerprint(&stored.fingerprint)
                .await?
            && done.workspace == workspace
        {
            return Ok(Prepared::Reused(Box::new(Submitted {
                execution: done,
                reused: true,
                warnings,
            })));
        }
        Ok(Prepared::New(Box::new(Planned {
            id,
            spec: stored,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            options,
            job,
            warnings,
        })))
    }

    /// Opens the span of an execution just created: under its pattern's span for a pattern's
    /// child, else under the span that submitted it (an API request's).
    fn trace_created(
        &self,
        workspace: &str,
        planned: &Planned,
        parent: Option<&quantd_store::ParentLink>,
    ) {
        let parent_span = match parent.and_then(|link| self.traces.span(&link.parent)?.id()) {
            Some(id) => trace::Parent::Of(id),
            None => trace::Parent::Current,
        };
        self.traces.open(
            &trace::ExecutionAttrs {
                id: &planned.id,
                kind: planned.spec.kind,
                workspace,
                pack_id: &planned.pack_id,
                code_version: planned.spec.code_version.as_deref(),
                step: parent.map(|l| l.step.as_str()),
            },
            parent_span,
        );
    }

    pub(super) fn new_execution_id(&self) -> ExecutionId {
        ExecutionId::from_parts(
            self.clock.now_ms() as u64,
            self.random() as u128 | ((self.random() as u128) << 64),
        )
    }

    /// Stores a new execution with its planned shards (the first one claimed by this engine, with
    /// `claim_first`) and announces it.
    pub(super) async fn create(
        &self,
        workspace: &str,
        planned: Planned,
        claim_first: bool,
        parent: Option<&quantd_store::ParentLink>,
    ) -> Result<Submitted> {
        let now = self.clock.now_ms();
        let shards = planned.job.plan();
        let id = planned.id.clone();
        // The first shard of an execution started here can compute while its claim commits.
        let ahead = match shards.first() {
            Some(first) if claim_first && planned.job.may_run_ahead() && self.fault.is_none() => {
                let (job, payload, ctl) = (
                    planned.job.clone(),
                    first.clone(),
                    self.shard_control(&id, 0, 1),
                );
                Some(tokio::task::spawn_blocking(move || job.run(&payload, &ctl)))
            }
            _ => None,
        };
        let lease = claim_first.then(|| Lease {
            owner: self.owner.clone(),
            until: now + self.options.lease_ms,
        });
        let new = planned.new_execution(workspace, shards, parent, lease, now);
        // Before the store has it, so a worker that claims a shard at once finds the span.
        self.trace_created(workspace, &planned, parent);
        let created = match self.store().create_execution(&new).await {
            Ok(c) => c,
            Err(e) => {
                self.traces.forget(&id);
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
        self.jobs
            .lock()
            .expect("jobs lock")
            .insert(id.clone(), planned.job);
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
            warnings: planned.warnings,
        })
    }

    /// Stores the child executions `planned` (with their parent links) in one transaction and
    /// announces them; a child whose step already has one (another advance made it a moment
    /// ago) is `None`.
    pub(crate) async fn create_children(
        &self,
        workspace: &str,
        planned: Vec<(Planned, quantd_store::ParentLink)>,
    ) -> Result<Vec<Option<Submitted>>> {
        let now = self.clock.now_ms();
        let batch: Vec<NewExecution> = planned
            .iter()
            .map(|(p, link)| p.new_execution(workspace, p.job.plan(), Some(link), None, now))
            .collect();
        for (p, link) in &planned {
            self.trace_created(workspace, p, Some(link));
        }
        let created = match self.store().create_executions(&batch).await {
            Ok(c) => c,
            Err(e) => {
                for (p, _) in &planned {
                    self.traces.forget(&p.id);
                }
                return Err(e.into());
            }
        };
        let mut events = Vec::new();
        let mut submitted = Vec::with_capacity(created.len());
        let mut jobs = self.jobs.lock().expect("jobs lock");
        for (c, (p, _)) in created.into_iter().zip(planned) {
            if c.is_none() {
                self.traces.forget(&p.id);
            }
            submitted.push(c.map(|c| {
                jobs.insert(p.id, p.job);
                events.extend(c.events);
                Submitted {
                    execution: c.record,
                    reused: false,
                    warnings: p.warnings,
                }
            }));
        }
        drop(jobs);
        self.broadcast(events);
        Ok(submitted)
    }
}

/// A submission checked, resolved and built ([`Engine::prepare_children`]), not yet stored.
pub(crate) enum Prepared {
    /// A completed execution with the same fingerprint, returned instead (`reuse`).
    Reused(Box<Submitted>),
    /// The execution to create.
    New(Box<Planned>),
}

/// An execution ready to store: its id, stored spec, pack, options and built job.
pub(crate) struct Planned {
    id: ExecutionId,
    spec: kinds::StoredSpec,
    pack_id: String,
    options: ExecutionOptions,
    job: Arc<dyn Job>,
    warnings: Vec<String>,
}

impl Planned {
    /// An execution `id` of `spec`, reading pack `pack_id` (empty: none), run by `job`.
    pub(crate) fn new(
        id: ExecutionId,
        spec: kinds::StoredSpec,
        pack_id: String,
        options: ExecutionOptions,
        job: Arc<dyn Job>,
    ) -> Planned {
        Planned {
            id,
            spec,
            pack_id,
            options,
            job,
            warnings: Vec::new(),
        }
    }

    /// The store's row of this execution with `shards` (its job's plan).
    fn new_execution(
        &self,
        workspace: &str,
        shards: Vec<serde_json::Value>,
        parent: Option<&quantd_store::ParentLink>,
        first_claim: Option<Lease>,
        now: i64,
    ) -> NewExecution {
        NewExecution {
            orchestrated: self.spec.orchestrated,
            priority: self.options.priority,
            parent: parent.cloned(),
            id: self.id.clone(),
            workspace: workspace.to_string(),
            kind: self.spec.kind,
            name: self.spec.name.clone(),
            fingerprint: self.spec.fingerprint.clone(),
            spec: self.spec.value.clone(),
            pack_id: self.pack_id.clone(),
            code_version: self.spec.code_version.clone(),
            options: serde_json::to_value(&self.options).expect("options serialize"),
            shards,
            now,
            first_claim,
        }
    }
}

/// The packs a batch of submissions looked up, by the name or id its requests gave (`None`: the
/// newest fresh pack), so items of one step look each up once.
#[derive(Default)]
pub(crate) struct PackLookups(std::collections::HashMap<Option<String>, quantd_store::PackRecord>);

impl PackLookups {
    async fn find<S: Store>(
        &mut self,
        engine: &Engine<S>,
        key: Option<&str>,
    ) -> Result<quantd_store::PackRecord> {
        let key = key.map(str::to_string);
        if let Some(found) = self.0.get(&key) {
            return Ok(found.clone());
        }
        let found = engine.packs.find(key.as_deref()).await?;
        self.0.insert(key, found.clone());
        Ok(found)
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
