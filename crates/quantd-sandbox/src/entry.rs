//! Jobs that call a scanner or strategy through the SDK's harness (`python -m quantd.harness`):
//! Arrow IPC bars in ([`BARS_FILE`] in the job dir), Arrow IPC results out ([`RESULT_FILE`] in
//! the output dir). The result columns are described in `python/quantd/harness.py`.

use crate::run::{JOB_DIR, Job, OUT_DIR, Outcome};
use crate::{Result, Verdict};
use std::path::PathBuf;

/// The user's code, in the job dir.
pub const CODE_FILE: &str = "main.py";
/// The input bars (an Arrow IPC file), in the job dir.
pub const BARS_FILE: &str = "bars.arrow";
/// The result (an Arrow IPC file), in the output dir.
pub const RESULT_FILE: &str = "result.arrow";

/// Where the bars of an entry-point job come from.
#[derive(Debug, Clone)]
pub enum Bars {
    /// An Arrow IPC file's bytes.
    Ipc(Vec<u8>),
    /// An Arrow IPC file on the host (hard-linked into the job dir when possible).
    HostFile(PathBuf),
}

/// A call of one entry point over bars.
#[derive(Debug, Clone)]
pub struct EntryCall {
    /// The user's Python source.
    pub code: String,
    /// The entry point's function name; `None` when the code defines exactly one.
    pub entry: Option<String>,
    /// Parameter values overriding the decorator's defaults (a JSON object).
    pub params: serde_json::Value,
    /// The bars: one ticker (`date` + OHLCV columns), or with `batch` many (plus a `ticker`
    /// column, each ticker's rows contiguous).
    pub bars: Bars,
    /// Whether `bars` holds many tickers. The result then keeps only rows with a signal, with
    /// a `ticker` column first.
    pub batch: bool,
}

impl EntryCall {
    /// The job that runs this call.
    pub fn job(&self) -> Job {
        let mut args = vec![
            "-m".to_owned(),
            "quantd.harness".into(),
            "--code".into(),
            format!("{JOB_DIR}/{CODE_FILE}"),
            "--bars".into(),
            format!("{JOB_DIR}/{BARS_FILE}"),
            "--out".into(),
            format!("{OUT_DIR}/{RESULT_FILE}"),
            "--params".into(),
            self.params.to_string(),
        ];
        if let Some(entry) = &self.entry {
            args.extend(["--entry".into(), entry.clone()]);
        }
        if self.batch {
            args.push("--batch".into());
        }
        let job = Job {
            args,
            ..Job::default()
        }
        .with_file(CODE_FILE, self.code.clone());
        match &self.bars {
            Bars::Ipc(bytes) => job.with_file(BARS_FILE, bytes.clone()),
            Bars::HostFile(path) => job.with_host_file(BARS_FILE, path.clone()),
        }
    }
}

impl Outcome {
    /// The Arrow IPC result of an entry-point job ([`RESULT_FILE`]), `None` unless the verdict
    /// is [`Verdict::Ok`]. Refuses anything but a plain file of at most `max_bytes`.
    pub fn result_ipc(&self, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        if self.verdict != Verdict::Ok {
            return Ok(None);
        }
        self.read_output(RESULT_FILE, max_bytes).map(Some)
    }
}
