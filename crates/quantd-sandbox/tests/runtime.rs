//! The managed runtime: an existing interpreter via `QUANTD_PYTHON` (what the tests use, pointed
//! at the `scripts/pyenv` venv), and the clear errors when a runtime cannot be made.

mod common;
use common::*;
use quantd_sandbox::{
    CancelToken, Error, Job, Runtime, RuntimeOptions, RuntimeStep, ShimCommand, Verdict, Zygote,
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
    assert!(matches!(e, Error::Runtime { .. }), "{e:?}");
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
