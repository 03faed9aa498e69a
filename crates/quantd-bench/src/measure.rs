//! What every benchmark shares: timing (best of N), the peers run in Python, the product binary
//! to time whole commands with, the plain-text tables the figures are printed in, and the
//! executions the store benchmarks fill the store with.

use crate::cli::{ProductArg, env};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `f` `repeat` times (at least once); returns the best time in seconds and the last value.
pub fn best_of<T>(
    repeat: usize,
    mut f: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let v = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    Ok((best, last.expect("at least one run")))
}

/// Runs a peer measurement in Python (`python args…`) and parses the JSON object it prints.
pub fn python_peer<S: AsRef<std::ffi::OsStr>>(
    python: &Path,
    args: &[S],
) -> anyhow::Result<serde_json::Value> {
    let out = std::process::Command::new(python)
        .args(args)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Threads the engine's foreground runs use, as `quantd` does: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl ProductArg {
    /// The `quantd` binary to time: `--quantd`/`QUANTD_BIN`, else the `quantd` next to this
    /// binary. Checked before any work, so a missing binary costs nothing.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.quantd {
            Some(path) => {
                anyhow::ensure!(
                    path.is_file(),
                    "--quantd {}: no such file; pass the path of a built `quantd` binary \
                     (or unset {})",
                    path.display(),
                    env::QUANTD_BIN
                );
                Ok(path.clone())
            }
            None => {
                let exe = std::env::current_exe().context("locating quantd-bench")?;
                let path = exe.with_file_name(format!("quantd{}", std::env::consts::EXE_SUFFIX));
                anyhow::ensure!(
                    path.is_file(),
                    "the product binary `quantd` is not next to quantd-bench ({} is missing): \
                     build it with `cargo build --release -p quantd` (`cargo build -p quantd` \
                     beside a debug quantd-bench), or pass --quantd PATH (or set {})",
                    path.display(),
                    env::QUANTD_BIN
                );
                Ok(path)
            }
        }
    }
}

/// A row of a measurement table: what, seconds, and millions of bars per second.
pub fn row(what: &str, secs: f64, bars: f64) -> Vec<String> {
    vec![
        what.to_string(),
        format!("{secs:.3}"),
        format!("{:.0}", bars / secs / 1e6),
    ]
}

/// Prints rows under a header, columns padded to their widest cell (as `quantd` prints tables).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `3 shards`, `1 shard`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Execution `i` of a store benchmark's fill, created at `at` (Unix ms) with `shards` empty shards:
/// an inline scan nobody runs (its pack id is all zeros).
pub fn stored_execution(
    i: usize,
    at: i64,
    workspace: &str,
    kind: quantd_core::ExecutionKind,
    name: Option<String>,
    shards: usize,
) -> quantd_store::NewExecution {
    quantd_store::NewExecution {
        id: quantd_core::ExecutionId::from_parts(at as u64, i as u128),
        workspace: workspace.into(),
        kind,
        name,
        spec: serde_json::json!({ "kind": "scan", "source": "close > sma(close, 20)" }),
        fingerprint: format!("{i:064x}"),
        pack_id: "0".repeat(64),
        code_version: None,
        options: serde_json::json!({}),
        shards: vec![serde_json::json!({}); shards],
        now: at,
        first_claim: None,
        parent: None,
        orchestrated: false,
        priority: 0,
    }
}

/// The synthetic universe of `tickers` × `days` sessions of `interval` bars, with its bars a
/// session and its bars in all.
pub fn universe(
    tickers: usize,
    days: usize,
    interval: quantd_data::time::Interval,
) -> anyhow::Result<(quantd_data::SynthSpec, u64, f64)> {
    let spec = quantd_data::SynthSpec {
        tickers,
        days,
        interval,
        ..quantd_data::SynthSpec::default()
    };
    let per_day = spec
        .bars_per_day()
        .ok_or_else(|| anyhow::anyhow!("no synthetic universe of {interval} bars"))?;
    Ok((spec, per_day, (tickers * days) as f64 * per_day as f64))
}
