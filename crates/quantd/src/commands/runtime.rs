//! `quantd runtime setup|doctor`: provision the managed Python runtime, and check it and the
//! sandbox (namespaces, seccomp, Landlock, memory limits, warm zygote start).

use super::Ctx;
use anyhow::Context;
use clap::{Args, Subcommand};
use quantd_engine::sandbox::{
    CancelToken, Job, MemoryLimit, Runtime, RuntimeOptions, RuntimeStep, ShimCommand, Verdict,
    Zygote,
};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `quantd runtime ...`
#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Create (or update) the managed Python runtime: a venv under the data directory with pinned
    /// numpy, pandas, pyarrow and the quantd SDK. QUANTD_PYTHON uses an existing interpreter instead.
    Setup(SetupArgs),
    /// Check the runtime and the sandbox: interpreter and versions, namespaces, seccomp, Landlock,
    /// memory limits (cgroup v2 or rlimits), warm zygote start time.
    Doctor,
}

/// Arguments of `runtime setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Recreate the venv even when it is up to date.
    #[arg(long)]
    pub reinstall: bool,
}

pub fn run(ctx: &Ctx, cmd: RuntimeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RuntimeCommand::Setup(a) => setup(ctx, a),
        RuntimeCommand::Doctor => doctor(ctx),
    }
}

/// Provisions the runtime with a spinner showing each step.
pub fn ensure_runtime(ctx: &Ctx, reinstall: bool) -> anyhow::Result<Runtime> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut options = RuntimeOptions::from_env();
    options.reinstall = reinstall;
    let rt = Runtime::ensure_with(&ctx.data_dir, &options, &mut |step| {
        bar.set_message(match step {
            RuntimeStep::UsingInterpreter(p) => format!("using QUANTD_PYTHON={}", p.display()),
            RuntimeStep::CreatingVenv { venv, bootstrap } => {
                format!("creating {} with {}", venv.display(), bootstrap.display())
            }
            RuntimeStep::Installing(line) => format!("pip: {line}"),
            RuntimeStep::InstallingSdk => "installing the quantd SDK".into(),
            RuntimeStep::Checking => "checking numpy, pandas, pyarrow".into(),
            RuntimeStep::Ready => "ready".into(),
        });
    });
    bar.finish_and_clear();
    Ok(rt?)
}

fn setup(ctx: &Ctx, a: SetupArgs) -> anyhow::Result<ExitCode> {
    let rt = ensure_runtime(ctx, a.reinstall)?;
    let v = rt.versions()?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"python": rt.python, "venv": rt.venv, "versions": v})
        );
    } else {
        println!(
            "runtime ready: {} (Python {}; numpy {}, pandas {}, pyarrow {})",
            rt.python.display(),
            v.python,
            v.numpy.unwrap_or_default(),
            v.pandas.unwrap_or_default(),
            v.pyarrow.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn doctor(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let support = quantd_engine::sandbox::host_support();
    let mut rows: Vec<(&str, String)> = vec![("kernel", support.kernel.clone())];
    let mut ok = true;
    let rt = Runtime::existing(&ctx.data_dir, &RuntimeOptions::from_env())?;
    let mut json = serde_json::json!({"host": support});
    match &rt {
        None => {
            ok = false;
            rows.push((
                "interpreter",
                "not set up: run `quantd runtime setup` (or set QUANTD_PYTHON)".into(),
            ));
        }
        Some(rt) => {
            let v = rt.versions()?;
            let source = if rt.venv.is_some() {
                "managed venv"
            } else {
                "QUANTD_PYTHON"
            };
            rows.push((
                "interpreter",
                format!("{} (Python {}, {source})", rt.python.display(), v.python),
            ));
            for (name, ver) in [
                ("numpy", &v.numpy),
                ("pandas", &v.pandas),
                ("pyarrow", &v.pyarrow),
            ] {
                ok &= ver.is_some();
                rows.push((name, ver.clone().unwrap_or_else(|| "MISSING".into())));
            }
            json["versions"] = serde_json::to_value(&v)?;
        }
    }
    rows.push((
        "seccomp",
        if support.seccomp {
            "available"
        } else {
            "MISSING"
        }
        .into(),
    ));
    rows.push((
        "landlock",
        match support.landlock_abi {
            Some(abi) => format!("ABI {abi} (applied to every job: writes only to its own places, no TCP, no abstract sockets or signals outside it)"),
            None => {
                "not available (jobs run without it; namespaces and seccomp still apply)".into()
            }
        },
    ));
    rows.push((
        "memory limit",
        match &support.memory {
            MemoryLimit::CgroupV2 { dir } => format!(
                "cgroup v2 memory.max per job, in children of {} (whole tree, no swap, OOM kills the whole job)",
                dir.display()
            ),
            MemoryLimit::Rlimit { why } => format!(
                "RLIMIT_AS per process, numeric libraries pinned to 1 thread ({why}; set QUANTD_CGROUP to a delegated cgroup v2 for per-job memory.max)"
            ),
        },
    ));
    if let Some(rt) = &rt {
        match zygote_check(rt) {
            Ok((start, import, seccomp_mode, job)) => {
                rows.push(("namespaces", "user, mount, pid, net, ipc, uts: ok".into()));
                rows.push((
                    "seccomp in jobs",
                    format!("mode {seccomp_mode} (2 = filter active)"),
                ));
                rows.push((
                    "zygote start",
                    format!(
                        "{} ms (imports {} ms); warm job round trip {} ms",
                        start.as_millis(),
                        import.as_millis(),
                        job.as_millis()
                    ),
                ));
                json["zygote"] = serde_json::json!({"start_ms": start.as_secs_f64() * 1e3, "import_ms": import.as_secs_f64() * 1e3, "job_ms": job.as_secs_f64() * 1e3});
            }
            Err(e) => {
                ok = false;
                rows.push(("sandbox", format!("FAILED: {e:#}")));
            }
        }
    }
    if ctx.json {
        json["ok"] = ok.into();
        println!("{json}");
    } else {
        for (k, v) in &rows {
            println!("{k:<16} {v}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Starts a zygote and runs one job: start time, import time, the job's seccomp mode, job time.
fn zygote_check(rt: &Runtime) -> anyhow::Result<(Duration, Duration, String, Duration)> {
    let config = rt.sandbox_config(ShimCommand::current_exe()?);
    let t = Instant::now();
    let z = Zygote::start(&config).context("starting the sandboxed zygote")?;
    let start = t.elapsed();
    let info = z.info()?;
    let job =
        Job::script("print(open('/proc/self/status').read().split('Seccomp:')[1].split()[0])");
    z.run(&job, &CancelToken::new())?; // the first job warms the page cache
    let t = Instant::now();
    let o = z.run(&job, &CancelToken::new())?;
    let job_time = t.elapsed();
    anyhow::ensure!(
        o.verdict == Verdict::Ok,
        "a probe job ended with {}: {}",
        o.verdict,
        String::from_utf8_lossy(&o.stderr)
    );
    Ok((
        start,
        info.import_time,
        String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        job_time,
    ))
}
