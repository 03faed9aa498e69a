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
/// A look-ahead check's report (JSON), in the output dir.
pub const CHECK_FILE: &str = "lookahead.json";

/// How a look-ahead check cuts each ticker's bars (`python -m quantd.lookahead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckArgs {
    /// Cut points per ticker.
    pub cuts: u32,
    /// Bars a cut leaves at least.
    pub min_bars: u32,
    /// Seed of the sampled cut points.
    pub seed: u64,
}

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
        let mut args = self.args("quantd.harness", RESULT_FILE);
        if self.batch {
            args.push("--batch".into());
        }
        self.with_inputs(args)
    }

    /// The job that checks this call's entry point for look-ahead over its bars (a batch):
    /// `python -m quantd.lookahead`, whose report is [`Outcome::check_json`].
    pub fn check_job(&self, check: CheckArgs) -> Job {
        let mut args = self.args("quantd.lookahead", CHECK_FILE);
        args.extend([
            "--cuts".into(),
            check.cuts.to_string(),
            "--min-bars".into(),
            check.min_bars.to_string(),
            "--seed".into(),
            check.seed.to_string(),
        ]);
        self.with_inputs(args)
    }

    /// The arguments common to the harness's modules: code, bars, output file, parameters,
    /// entry point.
    fn args(&self, module: &str, out: &str) -> Vec<String> {
        let mut args = vec![
            "-m".to_owned(),
            module.into(),
            "--code".into(),
            format!("{JOB_DIR}/{CODE_FILE}"),
            "--bars".into(),
            format!("{JOB_DIR}/{BARS_FILE}"),
            "--out".into(),
            format!("{OUT_DIR}/{out}"),
            "--params".into(),
            self.params.to_string(),
        ];
        if let Some(entry) = &self.entry {
            args.extend(["--entry".into(), entry.clone()]);
        }
        args
    }

    /// The job running `args`, with the code and the bars in its job dir.
    fn with_inputs(&self, args: Vec<String>) -> Job {
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

    /// The JSON report of a look-ahead check job ([`CHECK_FILE`]), `None` unless the verdict is
    /// [`Verdict::Ok`]. Refuses anything but a plain file of at most `max_bytes`.
    pub fn check_json(&self, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        if self.verdict != Verdict::Ok {
            return Ok(None);
        }
        self.read_output(CHECK_FILE, max_bytes).map(Some)
    }
}
