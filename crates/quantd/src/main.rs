//! The `quantd` binary: parses the command line, sets up logging and the async runtime, and
//! hands each command to the engine. Commands print tables for people, or JSON with `--json`.

mod cli;
mod commands;
mod output;
mod progress;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A re-executed sandbox shim must not start threads or parse our CLI: it runs and exits here.
    quantd_engine::sandbox::run_shim_if_requested();
    let cli = cli::Cli::parse();
    let telemetry = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(commands::run(cli));
    // Work left on the blocking pool (a shard abandoned at shutdown) must not keep the process
    // alive: its shard was given back to the queue.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // Spans and error reports still queued go out before the process ends.
    if let Some(t) = telemetry {
        t.shutdown();
    }
    if std::env::var_os(cli::env::QUANTD_REPORT_PEAK_RSS).is_some() {
        report_peak_rss();
    }
    match outcome {
        Ok(code) => code,
        // A reader that closed our stdout (`quantd results ID | head -3`) got what it wanted:
        // end quietly, like other Unix tools.
        Err(e) if closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is a write to a pipe whose reader has gone.
fn closed_stdout(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints an error for people. Code diagnostics are printed as rendered (they carry their own
/// `error:` lines and carets); everything else as `error: ` and the chain of causes.
fn report(e: &anyhow::Error) {
    match e.downcast_ref::<quantd_engine::EngineError>() {
        Some(
            quantd_engine::EngineError::Expression { rendered, .. }
            | quantd_engine::EngineError::Pattern { rendered, .. },
        ) => eprint!("{rendered}"),
        _ => eprintln!("error: {e:#}"),
    }
}

/// Prints `peak_rss_kib N` (VmHWM of /proc/self/status) to stderr, for benchmarks.
fn report_peak_rss() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        let kib: String = line.chars().filter(char::is_ascii_digit).collect();
        eprintln!("peak_rss_kib {kib}");
    }
}

/// Logs go to stderr; `QUANTD_LOG` (or `RUST_LOG`) sets the filter, default `warn`. Traces are
/// exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and internal errors reported
/// when `QUANTD_SENTRY_DSN` is (docs/operations.md).
fn init_logging() -> Option<quantd_server::telemetry::Telemetry> {
    use quantd_server::telemetry::{TelemetryOptions, init};
    let filter = std::env::var(cli::env::QUANTD_LOG)
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".into());
    match init(&TelemetryOptions::from_env(filter)) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("warning: telemetry is off: {e}");
            None
        }
    }
}
