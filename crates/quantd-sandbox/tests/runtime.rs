//! The managed runtime: an existing interpreter via `QUANTD_PYTHON` (what the tests use, pointed
//! at the `scripts/pyenv` venv), a runtime under `/tmp`, and the clear errors when a runtime
//! cannot be made or cannot start in the sandbox.

mod common;
use common::*;
use quantd_sandbox::{
    CancelToken, Job, Runtime, RuntimeOptions, RuntimeStep, SandboxError, ShimCommand, Verdict,
    Zygote,
};

#[test]
fn an_existing_interpreter_gets_the_sdk_and_runs_a_zygote() {
    let data = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let options = RuntimeOptions {
        python: Some(python()),
        ..RuntimeOptions::default()
    };
    let rt = Runtime::ensure_with(data.path(), &options, &mut |s| steps.push(s)).unwrap();
    assert_eq!(steps.last(), Some(&RuntimeStep::Ready));
    let sdk = rt.sdk_dir.clone().unwrap();
    assert!(sdk.join("quantd/zygote.py").is_file());
    let v = rt.versions().unwrap();
    assert_eq!(v.numpy.as_deref(), Some("2.4.6"));
    assert!(v.pandas.is_some() && v.pyarrow.is_some());
    let mut config = rt.sandbox_config(ShimCommand::new(env!("CARGO_BIN_EXE_quantd-sandbox-shim")));
    config.limits = small_limits();
    let z = Zygote::start(&config).unwrap();
    let o = z
        .run(
            &Job::script("import quantd, pandas\nprint(quantd.__file__)"),
            &CancelToken::new(),
        )
        .unwrap();
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), "/opt/quantd/python/quantd/__init__.py\n");
}

#[test]
fn no_bootstrap_python_says_what_why_and_how_to_fix() {
    let data = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        bootstrap_python: Some("/nonexistent/python3".into()),
        ..RuntimeOptions::default()
    };
    let e = Runtime::ensure_with(data.path(), &options, &mut |_| {}).unwrap_err();
    assert!(matches!(e, SandboxError::Runtime { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/python3 not found"), "{msg}");
    assert!(msg.contains("How to fix"), "{msg}");
    assert!(msg.contains("QUANTD_PYTHON"), "{msg}");
}

#[test]
fn an_interpreter_without_pandas_is_refused_with_a_fix() {
    let data = tempfile::tempdir().unwrap();
    let venv = data.path().join("bare");
    let st = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(st.success());
    let options = RuntimeOptions {
        python: Some(venv.join("bin/python")),
        ..RuntimeOptions::default()
    };
    let msg = Runtime::ensure_with(data.path(), &options, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cannot import numpy, pandas, pyarrow"),
        "{msg}"
    );
    assert!(msg.contains("requirements-runtime.txt"), "{msg}");
}

/// The output of `python -c CODE`.
fn python_says(python: &std::path::Path, code: &str) -> String {
    let out = std::process::Command::new(python)
        .args(["-c", code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Review S26 / newcomer D1: a runtime under `/tmp` (a data dir there, `HOME=/tmp/x`, an
/// `XDG_CACHE_HOME` under it) was hidden by the job's private `/tmp` and every job failed with
/// "No such file or directory". A venv under `/tmp`, whose packages come from another directory
/// bound under `/tmp` too, runs jobs cold and warm, and stays read-only.
#[test]
fn a_runtime_under_tmp_runs_cold_and_warm() {
    let dir = tempfile::Builder::new()
        .prefix("quantd-rt-")
        .tempdir_in("/tmp")
        .unwrap();
    let venv = dir.path().join("venv");
    let st = std::process::Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(st.success());
    let py = venv.join("bin/python");
    let purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])";
    let packages = dir.path().join("packages");
    std::fs::write(
        std::path::Path::new(&python_says(&py, purelib)).join("packages.pth"),
        format!("{}\n", packages.display()),
    )
    .unwrap();
    let mut c = config();
    c.python = py.clone();
    c.sdk_dir = Some(sdk_dir());
    c.ro_binds = vec![(python_says(&python(), purelib).into(), packages)];
    let code = "import sys, errno, pandas, quantd\nprint(sys.executable)\nopen('/tmp/scratch', 'w').write('x')\ntry:\n    open(sys.prefix + '/planted', 'w')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n";
    let want = format!("{}\nEROFS\n", py.display());
    let o = run_with(&c, Job::script(code));
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), want);
    quantd_sandbox::probe(&c).unwrap();
    let z = Zygote::start(&c).unwrap();
    for _ in 0..2 {
        let o = z.run(&Job::script(code), &CancelToken::new()).unwrap();
        expect(&o, Verdict::Ok);
        assert_eq!(stdout(&o), want);
    }
}

/// Review S26 / newcomer D17: an interpreter the sandbox cannot start is the server's problem
/// (class internal, retried), and the error says why, not "run `quantd runtime setup`".
#[test]
fn an_interpreter_the_sandbox_cannot_start_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let py = dir.path().join("bin/python");
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::write(&py, "#!/nonexistent/python3\n").unwrap();
    std::fs::set_permissions(&py, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut c = config();
    c.python = py.clone();
    c.sdk_dir = Some(sdk_dir());
    let cold = quantd_sandbox::probe(&c).unwrap_err();
    let warm = Zygote::start(&c).map(drop).unwrap_err();
    for e in [cold, warm] {
        assert!(matches!(e, SandboxError::CannotStart { .. }), "{e:?}");
        assert_eq!(e.class(), quantd_core::ErrorClass::Internal);
        assert!(e.class().retryable_by_default());
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "{} cannot be started inside the sandbox",
                py.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("`#!` interpreter"), "{msg}");
        assert!(msg.contains("How to fix"), "{msg}");
        assert!(!msg.contains("runtime setup"), "no circular advice: {msg}");
    }
}
