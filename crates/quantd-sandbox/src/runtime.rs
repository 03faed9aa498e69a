//! The managed Python runtime: the interpreter, numpy, pandas, pyarrow and the quantd SDK that
//! jobs run with.
//!
//! [`Runtime::ensure`] provisions it on first need: a venv under `<data dir>/runtime/venv` with
//! the pinned packages of `python/requirements-runtime.txt` and the SDK (both embedded in this
//! crate, so the binary needs no checkout), reporting each step through a callback. Later calls
//! only check a stamp file. [`QUANTD_PYTHON`] selects an existing interpreter instead (it must
//! have numpy, pandas and pyarrow; the SDK is then provided from `<data dir>/runtime/sdk`).
//! Failures say what failed, why and how to fix it ([`SandboxError::Runtime`]).

use crate::{Result, SandboxConfig, SandboxError, ShimCommand};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Use this interpreter instead of the managed venv.
pub const QUANTD_PYTHON: &str = "QUANTD_PYTHON";
/// The interpreter that creates the managed venv (default: `python3` on `PATH`).
pub const QUANTD_BOOTSTRAP_PYTHON: &str = "QUANTD_BOOTSTRAP_PYTHON";

/// The pinned requirements of the managed runtime.
pub const REQUIREMENTS: &str = include_str!("../../../python/requirements-runtime.txt");

/// The SDK package files, installed into the runtime.
const SDK_FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../python/quantd/__init__.py"),
    ),
    ("_sdk.py", include_str!("../../../python/quantd/_sdk.py")),
    (
        "_sandbox.py",
        include_str!("../../../python/quantd/_sandbox.py"),
    ),
    (
        "harness.py",
        include_str!("../../../python/quantd/harness.py"),
    ),
    (
        "lookahead.py",
        include_str!("../../../python/quantd/lookahead.py"),
    ),
    (
        "strategies.py",
        include_str!("../../../python/quantd/strategies.py"),
    ),
    ("ta.py", include_str!("../../../python/quantd/ta.py")),
    (
        "validate.py",
        include_str!("../../../python/quantd/validate.py"),
    ),
    (
        "zygote.py",
        include_str!("../../../python/quantd/zygote.py"),
    ),
    ("py.typed", ""),
];

/// What the interpreter reports about itself (see [`Runtime::versions`]).
const CHECK: &str = r#"
import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
for m in ("numpy", "pandas", "pyarrow"):
    try:
        out[m] = __import__(m).__version__
    except Exception as e:
        out[m] = None
        out.setdefault("errors", {})[m] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"#;

/// A step of [`Runtime::ensure`], for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeStep {
    /// Using the interpreter named by [`QUANTD_PYTHON`].
    UsingInterpreter(PathBuf),
    /// Creating the venv (with this bootstrap interpreter).
    CreatingVenv {
        /// Where.
        venv: PathBuf,
        /// With which interpreter.
        bootstrap: PathBuf,
    },
    /// pip is installing the pinned packages; one line of its output.
    Installing(String),
    /// Writing the SDK into the runtime.
    InstallingSdk,
    /// Checking that the interpreter imports numpy, pandas and pyarrow.
    Checking,
    /// Ready.
    Ready,
}

/// Where the runtime comes from; [`RuntimeOptions::from_env`] reads the documented variables.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// An existing interpreter to use instead of the managed venv ([`QUANTD_PYTHON`]).
    pub python: Option<PathBuf>,
    /// The interpreter that creates the venv ([`QUANTD_BOOTSTRAP_PYTHON`], default `python3`).
    pub bootstrap_python: Option<PathBuf>,
    /// Recreate the managed venv even when it is up to date.
    pub reinstall: bool,
}

impl RuntimeOptions {
    /// Options from [`QUANTD_PYTHON`] and [`QUANTD_BOOTSTRAP_PYTHON`].
    pub fn from_env() -> Self {
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            python: var(QUANTD_PYTHON),
            bootstrap_python: var(QUANTD_BOOTSTRAP_PYTHON),
            reinstall: false,
        }
    }
}

/// Versions the interpreter reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// Python's version.
    pub python: String,
    /// `sys.executable`.
    pub executable: String,
    /// numpy's version, `None` when it does not import.
    pub numpy: Option<String>,
    /// pandas' version, `None` when it does not import.
    pub pandas: Option<String>,
    /// pyarrow's version, `None` when it does not import.
    pub pyarrow: Option<String>,
    /// Import errors by module.
    #[serde(default)]
    pub errors: std::collections::BTreeMap<String, String>,
}

/// A ready Python runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The interpreter.
    pub python: PathBuf,
    /// The managed venv, when this is one (else the interpreter came from [`QUANTD_PYTHON`]).
    pub venv: Option<PathBuf>,
    /// Where the SDK is, when it is not installed in the interpreter's environment (see
    /// [`SandboxConfig::sdk_dir`]).
    pub sdk_dir: Option<PathBuf>,
}

/// The stamp that says a managed venv is complete and current.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Stamp {
    requirements: String,
    sdk: String,
}

fn content_hash(parts: impl IntoIterator<Item = impl AsRef<[u8]>>) -> String {
    // FNV-1a: enough to notice that embedded files changed; not a security boundary.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.as_ref() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn sdk_hash() -> String {
    content_hash(
        SDK_FILES
            .iter()
            .flat_map(|(n, c)| [n.as_bytes(), c.as_bytes()]),
    )
}

fn runtime_error(
    what: impl Into<String>,
    why: impl Into<String>,
    fix: impl Into<String>,
) -> SandboxError {
    SandboxError::Runtime {
        what: what.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

const FIX_PYTHON: &str = "install Python 3.10+ with venv support (Debian/Ubuntu: `apt-get install python3 python3-venv`), or set QUANTD_PYTHON to an interpreter that has numpy, pandas and pyarrow";

impl Runtime {
    /// Makes sure a runtime exists under `data_dir` (or the one [`QUANTD_PYTHON`] names is
    /// usable), creating it on first need; `progress` hears about each step.
    pub fn ensure(data_dir: &Path, progress: &mut dyn FnMut(RuntimeStep)) -> Result<Runtime> {
        Self::ensure_with(data_dir, &RuntimeOptions::from_env(), progress)
    }

    /// [`Runtime::ensure`] with explicit options.
    #[tracing::instrument(skip(progress))]
    pub fn ensure_with(
        data_dir: &Path,
        options: &RuntimeOptions,
        progress: &mut dyn FnMut(RuntimeStep),
    ) -> Result<Runtime> {
        let root = data_dir.join("runtime");
        std::fs::create_dir_all(&root)
            .map_err(|e| SandboxError::io(format!("create {}", root.display()), e))?;
        if let Some(python) = &options.python {
            progress(RuntimeStep::UsingInterpreter(python.clone()));
            let python = absolute_interpreter(python)?;
            let rt = Runtime {
                python,
                venv: None,
                sdk_dir: Some(root.join("sdk")),
            };
            progress(RuntimeStep::Checking);
            rt.require_packages(QUANTD_PYTHON)?;
            progress(RuntimeStep::InstallingSdk);
            write_sdk(&root.join("sdk").join("quantd"))?;
            progress(RuntimeStep::Ready);
            return Ok(rt);
        }
        let _lock = lock(&root.join(".lock"))?;
        let venv = root.join("venv");
        let rt = Runtime {
            python: venv.join("bin").join("python"),
            venv: Some(venv.clone()),
            sdk_dir: None,
        };
        let want = Stamp {
            requirements: content_hash([REQUIREMENTS]),
            sdk: sdk_hash(),
        };
        let stamp_path = venv.join(".quantd-runtime.json");
        let have: Option<Stamp> = std::fs::read(&stamp_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if !options.reinstall && rt.python.exists() && have.as_ref() == Some(&want) {
            progress(RuntimeStep::Ready);
            return Ok(rt);
        }
        let fresh = options.reinstall
            || !rt.python.exists()
            || have
                .as_ref()
                .is_none_or(|h| h.requirements != want.requirements);
        if fresh {
            let _ = std::fs::remove_dir_all(&venv);
            let bootstrap = find_bootstrap(options)?;
            progress(RuntimeStep::CreatingVenv {
                venv: venv.clone(),
                bootstrap: bootstrap.clone(),
            });
            create_venv(&bootstrap, &venv)?;
            let req = root.join("requirements.txt");
            std::fs::write(&req, REQUIREMENTS)
                .map_err(|e| SandboxError::io(format!("write {}", req.display()), e))?;
            pip_install(&rt.python, &req, progress)?;
        }
        progress(RuntimeStep::InstallingSdk);
        let purelib = python_output(
            &rt.python,
            &[
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
        )?;
        write_sdk(&PathBuf::from(purelib.trim()).join("quantd"))?;
        progress(RuntimeStep::Checking);
        rt.require_packages("the managed runtime")?;
        let stamp = serde_json::to_vec(&want).expect("serializable");
        std::fs::write(&stamp_path, stamp)
            .map_err(|e| SandboxError::io(format!("write {}", stamp_path.display()), e))?;
        progress(RuntimeStep::Ready);
        Ok(rt)
    }

    /// The runtime that exists now, creating nothing heavy: [`QUANTD_PYTHON`]'s, or the managed
    /// venv when it is set up and current; `None` when `quantd runtime setup` is still needed.
    pub fn existing(data_dir: &Path, options: &RuntimeOptions) -> Result<Option<Runtime>> {
        let venv = data_dir.join("runtime").join("venv");
        let current = std::fs::read(venv.join(".quantd-runtime.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Stamp>(&b).ok())
            .is_some_and(|s| s.requirements == content_hash([REQUIREMENTS]));
        if options.python.is_none() && !current {
            return Ok(None);
        }
        Self::ensure_with(data_dir, options, &mut |_| {}).map(Some)
    }

    /// Asks the interpreter for its version and those of numpy, pandas and pyarrow.
    pub fn versions(&self) -> Result<Versions> {
        let out = python_output(&self.python, &["-s", "-c", CHECK])?;
        serde_json::from_str(out.trim()).map_err(|e| {
            runtime_error(
                format!("{} did not describe itself", self.python.display()),
                format!("{e}: {out}"),
                FIX_PYTHON,
            )
        })
    }

    fn require_packages(&self, source: &str) -> Result<Versions> {
        let v = self.versions()?;
        let missing: Vec<&str> = [
            ("numpy", &v.numpy),
            ("pandas", &v.pandas),
            ("pyarrow", &v.pyarrow),
        ]
        .into_iter()
        .filter(|(_, ver)| ver.is_none())
        .map(|(m, _)| m)
        .collect();
        if !missing.is_empty() {
            return Err(runtime_error(
                format!(
                    "the interpreter {} ({source}) cannot import {}",
                    self.python.display(),
                    missing.join(", ")
                ),
                format!("{:?}", v.errors),
                format!(
                    "install them into it (`{} -m pip install -r python/requirements-runtime.txt`), or unset {QUANTD_PYTHON} to let quantd manage its own runtime (`quantd runtime setup`)",
                    self.python.display()
                ),
            ));
        }
        Ok(v)
    }

    /// A sandbox configuration for this runtime, with default limits; memory is limited by a
    /// delegated cgroup v2 when this host has one ([`crate::host_support`]).
    pub fn sandbox_config(&self, shim: ShimCommand) -> SandboxConfig {
        let mut c = SandboxConfig::new(&self.python, shim);
        c.sdk_dir = self.sdk_dir.clone();
        if let crate::MemoryLimit::CgroupV2 { dir } = crate::support::memory_limit() {
            c.memory_cgroup = Some(dir);
        }
        c
    }
}

fn absolute_interpreter(python: &Path) -> Result<PathBuf> {
    let found = if python.components().count() == 1 {
        which(python.as_os_str())
    } else {
        Some(python.to_path_buf())
    };
    let path = found
        .and_then(|p| std::path::absolute(p).ok())
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            runtime_error(
                format!("{QUANTD_PYTHON}={} is not an interpreter", python.display()),
                "no such file",
                format!("point {QUANTD_PYTHON} at a python executable, or unset it"),
            )
        })?;
    Ok(path)
}

fn which(name: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn find_bootstrap(options: &RuntimeOptions) -> Result<PathBuf> {
    let wanted = options
        .bootstrap_python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let path = if wanted.components().count() == 1 {
        which(wanted.as_os_str())
    } else {
        Some(wanted.clone()).filter(|p| p.is_file())
    };
    let path = path.ok_or_else(|| {
        runtime_error(
            format!("cannot create the Python runtime: {} not found", wanted.display()),
            "quantd runs Python code with its own interpreter and needs python3 (3.10+) to create it",
            FIX_PYTHON,
        )
    })?;
    let version = python_output(
        &path,
        &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    )?;
    let (major, minor) = version
        .trim()
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .unwrap_or((0, 0));
    if (major, minor) < (3, 10) {
        return Err(runtime_error(
            format!("{} is Python {}", path.display(), version.trim()),
            "the SDK needs Python 3.10 or newer",
            FIX_PYTHON,
        ));
    }
    Ok(path)
}

fn python_output(python: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(python)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            runtime_error(
                format!("cannot run {}", python.display()),
                e.to_string(),
                FIX_PYTHON,
            )
        })?;
    if !out.status.success() {
        return Err(runtime_error(
            format!("{} failed ({})", python.display(), out.status),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            FIX_PYTHON,
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn create_venv(bootstrap: &Path, venv: &Path) -> Result<()> {
    let out = Command::new(bootstrap)
        .args(["-m", "venv"])
        .arg(venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SandboxError::io(format!("run {} -m venv", bootstrap.display()), e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let _ = std::fs::remove_dir_all(venv);
        let fix = if err.contains("ensurepip") {
            "install venv support for that interpreter (Debian/Ubuntu: `apt-get install python3-venv`), or set QUANTD_PYTHON".to_owned()
        } else {
            FIX_PYTHON.to_owned()
        };
        return Err(runtime_error(
            format!("cannot create the venv {}", venv.display()),
            err.trim().to_owned(),
            fix,
        ));
    }
    Ok(())
}

/// Lines of pip output that mean the package index cannot be reached.
const OFFLINE_SIGNS: &[&str] = &[
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Connection refused",
    "No matching distribution found",
    "Could not fetch URL",
    "ProxyError",
    "timed out",
];

fn pip_install(
    python: &Path,
    requirements: &Path,
    progress: &mut dyn FnMut(RuntimeStep),
) -> Result<()> {
    let mut child = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "-r",
        ])
        .arg(requirements)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SandboxError::io("run pip", e))?;
    let stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let mut tail: Vec<String> = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(line) = line else { break };
        let line = line.trim().to_owned();
        if !line.is_empty() {
            progress(RuntimeStep::Installing(line.clone()));
            tail.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| SandboxError::io("wait for pip", e))?;
    let stderr = err_reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let all = format!("{}\n{stderr}", tail.join("\n"));
    let last: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
    let why = last[last.len().saturating_sub(6)..].join("\n");
    if OFFLINE_SIGNS.iter().any(|s| all.contains(s)) {
        return Err(runtime_error(
            "cannot install numpy, pandas and pyarrow: the package index is unreachable (offline?)",
            why,
            "connect this machine to the network (or set PIP_INDEX_URL to a reachable mirror) and run `quantd runtime setup` again, or set QUANTD_PYTHON to an interpreter that already has numpy, pandas and pyarrow",
        ));
    }
    Err(runtime_error(
        "pip could not install the runtime's packages",
        why,
        "read pip's message above; `quantd runtime setup --reinstall` starts over",
    ))
}

fn write_sdk(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SandboxError::io(format!("create {}", dir.display()), e))?;
    for (name, content) in SDK_FILES {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(content.as_bytes()) {
            std::fs::write(&path, content)
                .map_err(|e| SandboxError::io(format!("write {}", path.display()), e))?;
        }
    }
    Ok(())
}

/// An exclusive lock on `path` (held until the returned file is dropped), so two processes do not
/// build the same venv at once.
fn lock(path: &Path) -> Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| SandboxError::io(format!("open {}", path.display()), e))?;
    crate::sys::flock_exclusive(std::os::fd::AsRawFd::as_raw_fd(&f))
        .map_err(|e| SandboxError::io(format!("lock {}", path.display()), e))?;
    Ok(f)
}
