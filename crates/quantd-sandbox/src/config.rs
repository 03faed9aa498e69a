//! The sandbox's options: which interpreter, how to start the shim, limits, environment.

use crate::{LimitBounds, Limits, Result, SandboxError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The first argument that makes a binary act as the sandbox shim (see [`crate::shim_main`]).
pub const SHIM_ARG: &str = "__sandbox-shim";

/// The environment every job gets (an allow-list: nothing of the caller's environment passes).
/// Thread-pool sizes are pinned to one (and pyarrow's allocator thread is off) so numeric libraries neither fight `RLIMIT_AS` nor the
/// process limit; the hash seed is fixed so results are reproducible.
pub const DEFAULT_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("HOME", "/work"),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("PYTHONHASHSEED", "0"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONUNBUFFERED", "1"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("OMP_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("NUMEXPR_NUM_THREADS", "1"),
    ("ARROW_DEFAULT_MEMORY_POOL", "system"),
    // pyarrow's bundled jemalloc would start a purge thread: the zygote must fork single-threaded.
    ("JE_ARROW_MALLOC_CONF", "background_thread:false"),
];

/// Where [`SandboxConfig::sdk_dir`] appears inside the sandbox.
pub const SDK_MOUNT: &str = "/opt/quantd/python";

/// How the shim is started: a program and the arguments that put it in shim mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimCommand {
    /// The executable (normally the quantd binary itself).
    pub program: PathBuf,
    /// Arguments before the shim's own (normally `[SHIM_ARG]`).
    pub args: Vec<OsString>,
}

impl ShimCommand {
    /// The running executable with [`SHIM_ARG`]: what the quantd binary uses.
    pub fn current_exe() -> Result<Self> {
        let program = std::env::current_exe().map_err(|e| SandboxError::io("current_exe", e))?;
        Ok(Self::new(program))
    }

    /// `program` with [`SHIM_ARG`]: for a dedicated shim binary (tests use
    /// `quantd-sandbox-shim`), whose `main` calls [`crate::shim_main`].
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: vec![SHIM_ARG.into()],
        }
    }
}

/// Whether jobs are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Namespaces, pivoted read-only root, seccomp, limits. The default; refuses to run when the
    /// kernel refuses namespaces.
    #[default]
    Sandboxed,
    /// Limits, cleared environment and closed fds only: user code sees the host's files and
    /// network. Only for machines that cannot create namespaces, by explicit choice; every job logs
    /// a warning.
    UnsafeNoSandbox,
}

/// Everything the sandbox needs to run jobs; cheap to clone, shared by all jobs of a runtime.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The interpreter (a venv's `bin/python` or a system python). The venv and the base
    /// interpreter's prefix are made visible, read-only, at their host paths.
    pub python: PathBuf,
    /// How to start the shim.
    pub shim: ShimCommand,
    /// Sandboxed (default) or the explicit unsafe mode.
    pub isolation: Isolation,
    /// Per-job limits (a job may bring its own: [`crate::Job::limits`]).
    pub limits: Limits,
    /// What any job's limits must stay within; checked before a job starts (see
    /// [`Limits::validate_within`]). Default: [`LimitBounds::default`].
    pub bounds: LimitBounds,
    /// Variables added to [`DEFAULT_ENV`] (same name: this wins).
    pub env: Vec<(String, String)>,
    /// Extra read-only host directories (e.g. a pack): `(host path, path inside the sandbox)`.
    pub ro_binds: Vec<(PathBuf, PathBuf)>,
    /// The directory holding the `quantd` SDK package (the repo's `python/`), bound read-only at
    /// [`SDK_MOUNT`] and put on `PYTHONPATH`. `None` when the SDK is installed in the runtime's
    /// venv.
    pub sdk_dir: Option<PathBuf>,
    /// Where job directories are created (default: the system temp dir).
    pub scratch_dir: Option<PathBuf>,
    /// The host uid (and gid) jobs run as when quantd itself runs as root, so that no file owned
    /// by root is ever the job's own. Default 65534 (`nobody`). Without root, jobs run as the
    /// caller's uid (mapped to root inside, without capabilities).
    pub root_host_uid: u32,
    /// A delegated cgroup v2, made ready by [`crate::prepare_cgroup`]: each job then gets its own
    /// child cgroup with `memory.max` for its whole tree instead of `RLIMIT_AS` per process.
    /// `None`: rlimits.
    pub memory_cgroup: Option<PathBuf>,
}

impl SandboxConfig {
    /// A sandboxed configuration with default limits.
    pub fn new(python: impl Into<PathBuf>, shim: ShimCommand) -> Self {
        Self {
            python: python.into(),
            shim,
            isolation: Isolation::Sandboxed,
            limits: Limits::default(),
            bounds: LimitBounds::default(),
            env: Vec::new(),
            ro_binds: Vec::new(),
            sdk_dir: None,
            scratch_dir: None,
            root_host_uid: 65534,
            memory_cgroup: None,
        }
    }

    /// The environment a job gets: [`DEFAULT_ENV`] overridden by [`SandboxConfig::env`] and then by
    /// the job's own variables.
    pub(crate) fn job_env(&self, job: &[(String, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = DEFAULT_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in self.env.iter().chain(job) {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// Host directories the interpreter needs, read-only at the same path inside: the system
    /// library trees, the venv (if `python` is in one) and the base interpreter's prefix.
    pub(crate) fn runtime_dirs(&self) -> Result<Vec<PathBuf>> {
        if !self.python.is_absolute() {
            return Err(SandboxError::Config(format!(
                "the interpreter path must be absolute: {}",
                self.python.display()
            )));
        }
        let real = std::fs::canonicalize(&self.python).map_err(|e| {
            SandboxError::Config(format!(
                "interpreter {} not found ({e}); run `quantd runtime setup` or set QUANTD_PYTHON",
                self.python.display()
            ))
        })?;
        let mut dirs = Vec::new();
        if let Some(venv) = self.python.parent().and_then(Path::parent)
            && venv.join("pyvenv.cfg").is_file()
        {
            dirs.push(venv.to_path_buf());
        }
        if let Some(prefix) = real.parent().and_then(Path::parent)
            && prefix != Path::new("/")
            && !prefix.starts_with("/usr")
        {
            dirs.push(prefix.to_path_buf());
        }
        Ok(dirs)
    }
}
