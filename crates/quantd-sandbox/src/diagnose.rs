//! Why the sandbox could not start an interpreter, in words an operator can act on: the real
//! cause of a failed setup stage and what to change ([`SandboxError::CannotStart`]), instead of a bare
//! "No such file or directory" or advice that cannot help (reinstalling a runtime the sandbox
//! cannot see).

use crate::config::SandboxConfig;
use crate::layout::{host_ids, root_layout};
use crate::{QUANTD_PYTHON, SandboxError};

/// The real cause of a start failure and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartFailure {
    pub why: String,
    pub fix: String,
}

impl StartFailure {
    /// The error for `what` (e.g. "the Python zygote did not start").
    pub(crate) fn error(self, what: &str) -> SandboxError {
        SandboxError::CannotStart {
            what: what.to_owned(),
            why: self.why,
            fix: self.fix,
        }
    }
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}. How to fix: {}", self.why, self.fix)
    }
}

const DOCTOR: &str = "run `quantd runtime doctor` to check the kernel's sandbox support (namespaces, seccomp, Landlock, mounts)";

/// Explains the shim's report that building the sandbox failed at `stage`.
pub(crate) fn setup_failure(
    config: &SandboxConfig,
    stage: &str,
    errno: Option<i32>,
    message: &str,
) -> StartFailure {
    let failure = |why: String, fix: &str| StartFailure {
        why,
        fix: fix.to_owned(),
    };
    if let Some(program) = stage.strip_prefix("exec ") {
        return exec_failure(config, program, errno, message);
    }
    if let Some(dir) = stage.strip_prefix("open ") {
        return failure(
            format!("{dir}, to be made visible in the sandbox, cannot be opened ({message})"),
            "check that it exists and that quantd's user can read it",
        );
    }
    let fs_stages = [
        "mount",
        "bind",
        "restrict",
        "remount",
        "pivot_root",
        "detach",
        "mkdir",
    ];
    if fs_stages.iter().any(|s| stage.starts_with(s)) {
        return failure(
            format!(
                "the kernel refused to build the sandbox's file system at `{stage}` ({message})"
            ),
            &format!(
                "in a container, allow mounts inside user namespaces (its seccomp or AppArmor profile); {DOCTOR}"
            ),
        );
    }
    failure(
        format!("the sandbox failed at `{stage}` ({message})"),
        DOCTOR,
    )
}

fn exec_failure(
    config: &SandboxConfig,
    program: &str,
    errno: Option<i32>,
    message: &str,
) -> StartFailure {
    match errno {
        Some(libc::ENOENT) => {
            let dirs = root_layout(config)
                .map(|(binds, _)| {
                    let dirs: Vec<String> =
                        binds.iter().map(|b| b.dst.display().to_string()).collect();
                    dirs.join(", ")
                })
                .unwrap_or_default();
            StartFailure {
                why: format!(
                    "{program} cannot be started inside the sandbox ({message}): it, or what loads it (its `#!` interpreter, its ELF loader or a shared library), is outside the directories the sandbox makes visible: {dirs}"
                ),
                fix: format!(
                    "keep the interpreter, its venv and its base installation inside those directories (`head -1 {program}` and `ldd {program}` show what it loads), or point {QUANTD_PYTHON} at an interpreter that is"
                ),
            }
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let (uid, _) = host_ids(config);
            StartFailure {
                why: format!(
                    "the sandbox's user (host uid {uid}) may not run {program} ({message})"
                ),
                fix: format!(
                    "make the runtime readable and executable by uid {uid} (e.g. `chmod -R a+rX` on its venv), and keep it out of a private (0700) directory"
                ),
            }
        }
        _ => StartFailure {
            why: format!("{program} could not be started inside the sandbox ({message})"),
            fix: DOCTOR.to_owned(),
        },
    }
}

/// Explains a zygote that exited (or never said it was ready) after the sandbox was built: its
/// imports failed, or it crashed. `output` is the end of its stderr.
pub(crate) fn zygote_failure(config: &SandboxConfig, failure: &str, output: &str) -> StartFailure {
    let missing = ["ModuleNotFoundError", "ImportError", "No module named"];
    let fix = if missing.iter().any(|m| output.contains(m)) {
        format!(
            "the interpreter {} lacks a module the zygote imports (numpy, pandas, pyarrow or the quantd SDK): `quantd runtime setup` reinstalls the managed runtime; with {QUANTD_PYTHON}, install them into that interpreter",
            config.python.display()
        )
    } else {
        format!("read the zygote's output above; {DOCTOR}")
    };
    let why = if output.is_empty() {
        failure.to_owned()
    } else {
        format!("{failure}; its output:\n{output}")
    };
    StartFailure { why, fix }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShimCommand;

    fn config() -> SandboxConfig {
        SandboxConfig::new("/usr/bin/python3", ShimCommand::new("/bin/true"))
    }

    #[test]
    fn a_missing_interpreter_names_the_visible_directories_not_setup() {
        let f = setup_failure(
            &config(),
            "exec /tmp/x/bin/python",
            Some(libc::ENOENT),
            "No such file or directory (os error 2)",
        );
        assert!(
            f.why
                .contains("/tmp/x/bin/python cannot be started inside the sandbox"),
            "{f}"
        );
        assert!(f.why.contains("/usr"), "lists the bound directories: {f}");
        assert!(f.fix.contains("ldd"), "{f}");
        assert!(
            !f.to_string().contains("runtime setup"),
            "no circular advice: {f}"
        );
    }

    #[test]
    fn each_kind_of_stage_has_its_own_cause() {
        let c = config();
        let f = setup_failure(&c, "exec /x", Some(libc::EACCES), "Permission denied");
        assert!(
            f.why.contains("may not run /x") && f.fix.contains("a+rX"),
            "{f}"
        );
        let f = setup_failure(&c, "open /srv/venv", Some(libc::ENOENT), "gone");
        assert!(
            f.why.contains("/srv/venv") && f.fix.contains("exists"),
            "{f}"
        );
        let f = setup_failure(&c, "mount tmpfs /tmp/tmp", Some(libc::EPERM), "denied");
        assert!(
            f.why.contains("file system") && f.fix.contains("doctor"),
            "{f}"
        );
        let f = setup_failure(&c, "rlimits", None, "boom");
        assert!(f.why.contains("`rlimits`"), "{f}");
        let f = zygote_failure(
            &c,
            "it exited",
            "ModuleNotFoundError: No module named 'pandas'",
        );
        assert!(f.fix.contains("quantd runtime setup"), "{f}");
        let f = zygote_failure(&c, "it exited", "Segmentation fault");
        assert!(!f.fix.contains("runtime setup"), "{f}");
    }
}
