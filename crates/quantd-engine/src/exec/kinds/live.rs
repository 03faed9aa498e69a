//! The `live` kind: a paper session that follows a pack's new bars and mirrors its book to the
//! broker account ([`crate::python::live`]): real orders. Three locks, all checked at the door
//! (nothing is created when one is closed):
//!
//! - the workspace's policy allows it (`live_trading`, which only an admin or the server's
//!   operator turns on: [`crate::policy`]);
//! - the request confirms it (`confirm_live: true`; `quantd paper --live`);
//! - the server has a broker account (its workers' `APCA_API_*` environment).
//!
//! A live session trades bars as they arrive, so it must `follow` its pack; it has no speed
//! (history is stepped as fast as the strategy goes, new bars as soon as they are imported). Its
//! record, results and streams are a paper session's, with the broker's orders beside them
//! (`live-start`, `live-order` events).

use super::paper::{Paper, ResolvedPaper};
use super::{Kind, reader_of};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::views::Table;
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use std::sync::Arc;

/// The `live` kind.
pub struct Live;

impl Kind for Live {
    const KIND: ExecutionKind = ExecutionKind::Live;
    const FIELDS: &'static [&'static str] = &[
        "code",
        "python",
        "tickers",
        "from",
        "config",
        "follow",
        "confirm_live",
    ];
    type Spec = ResolvedPaper;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedPaper> {
        if !request.confirm_live {
            return Err(EngineError::Invalid(
                "`confirm_live`: a live session places real orders at the broker account; set `confirm_live: true` (`quantd paper --live`) to confirm, or trade on paper (kind `paper`)".into(),
            ));
        }
        if !engine.workspace_policy(workspace).await?.live_trading {
            return Err(EngineError::NotAllowed(format!(
                "workspace `{workspace}` may not trade live: an admin turns it on with `live_trading: true` in the workspace's policy (`PUT /v1/policy`, or `quantd policy set --workspace {workspace} --live-trading true` on the server's machine)"
            )));
        }
        if engine.options.broker.is_none() {
            return Err(EngineError::NotAllowed(
                "this server has no broker account: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (and APCA_API_BASE_URL for another endpoint than Alpaca's paper one) where quantd runs".into(),
            ));
        }
        if !request.follow {
            return Err(EngineError::Invalid(
                "`follow`: a live session trades bars as they arrive; set `follow: true` to trade the pack's new versions (its bars now are history the strategy warms up on)".into(),
            ));
        }
        request.speed = Some("max".into());
        request.confirm_live = false;
        Paper::resolve(engine, workspace, pack, request).await
    }

    fn sandboxed(_spec: &ResolvedPaper) -> bool {
        true
    }

    fn code(spec: &ResolvedPaper) -> Option<&CodeInfo> {
        Paper::code(spec)
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        id: &ExecutionId,
        spec: &ResolvedPaper,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let Some(broker) = engine.options.broker.clone() else {
            return Err(EngineError::NotAllowed(
                "this worker has no broker account (APCA_API_KEY_ID, APCA_API_SECRET_KEY): run the live session's workers where they are set".into(),
            ));
        };
        let job = super::paper::session_job(engine, id, spec, reader_of(reader)?, sandbox)?;
        Ok(Arc::new(job.live(broker)))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        Paper::finalize(engine, rec).await
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        Paper::outputs(engine, rec).await
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Paper::table(engine, rec).await
    }
}
