//! The sandbox runs Python with its runtime, reports verdicts, and refuses clearly when the
//! kernel refuses namespaces.

mod common;
use common::*;
use quantd_sandbox::{Isolation, Job, SandboxError, ShimCommand, Verdict};
use std::time::Duration;

#[test]
fn hello_runs_ok_as_pid_2_in_a_fresh_namespace() {
    let o = run(
        "import os, socket\nprint('hello', os.getpid(), os.getppid(), os.getuid(), os.getcwd(), socket.gethostname())",
    );
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), "hello 2 1 0 /work sandbox\n");
    assert!(o.wall_time < Duration::from_secs(5));
}

#[test]
fn numpy_pandas_pyarrow_import_under_the_limits() {
    let o = run(
        "import numpy as np, pandas as pd, pyarrow as pa\ndf = pd.DataFrame({'a': np.arange(5)})\nprint(pa.Table.from_pandas(df).num_rows, int(df.a.sum()))",
    );
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), "5 10\n");
}

#[test]
fn exception_is_a_runtime_error_with_its_traceback() {
    let o = run("def f():\n    return 1 / 0\nprint('before')\nf()\n");
    expect(&o, Verdict::RuntimeError);
    assert_eq!(o.exit_code, Some(1));
    let tb = o.traceback.as_deref().unwrap();
    assert!(tb.starts_with("Traceback (most recent call last):"), "{tb}");
    assert!(tb.contains("line 2, in f"), "{tb}");
    assert!(tb.ends_with("ZeroDivisionError: division by zero"), "{tb}");
    assert_eq!(stdout(&o), "before\n");
    assert_eq!(
        o.verdict.error_class(),
        Some(quantd_core::ErrorClass::Execution)
    );
}

#[test]
fn job_files_and_outputs_round_trip() {
    let job = Job::script("import sys\ndata = open('/job/input.txt').read()\nopen('/out/result.txt', 'w').write(data.upper() + sys.argv[1])")
        .with_file("input.txt", "bars")
        .with_args(["!"]);
    let o = run_with(&config(), job);
    expect(&o, Verdict::Ok);
    assert_eq!(o.read_output("result.txt", 100).unwrap(), b"BARS!");
}

#[test]
fn signal_verdict_for_a_self_kill() {
    let o = run("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n");
    expect(&o, Verdict::Signal);
    assert_eq!(o.signal, Some(libc::SIGTERM));
}

#[test]
fn probe_succeeds_on_this_machine() {
    quantd_sandbox::probe(&config()).unwrap();
}

#[test]
fn refused_namespaces_give_a_clear_error() {
    // Start the shim inside a user namespace that may not create nested ones.
    let mut c = config();
    let shim = env!("CARGO_BIN_EXE_quantd-sandbox-shim");
    c.shim = ShimCommand {
        program: "/usr/bin/unshare".into(),
        args: [
            "-Ur",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"",
            "sh",
            shim,
            quantd_sandbox::SHIM_ARG,
        ]
        .map(Into::into)
        .to_vec(),
    };
    let err = quantd_sandbox::run(&c, &Job::script("print(1)"), &Default::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SandboxError::NamespacesUnavailable { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("clone")
            && msg.contains("max_user_namespaces")
            && msg.contains("--unsafe-no-sandbox"),
        "{msg}"
    );
    assert!(matches!(
        quantd_sandbox::probe(&c),
        Err(SandboxError::NamespacesUnavailable { .. })
    ));
    // The warm path refuses the same way: the zygote itself cannot get its namespaces.
    c.sdk_dir = Some(sdk_dir());
    let err = quantd_sandbox::Zygote::start(&c).map(drop).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SandboxError::NamespacesUnavailable { .. }),
        "{msg}"
    );
    assert!(msg.contains("max_user_namespaces"), "{msg}");
}

#[test]
fn unsafe_mode_runs_without_namespaces_but_with_limits() {
    let mut c = config();
    c.isolation = Isolation::UnsafeNoSandbox;
    let o = run_with(
        &c,
        Job::script(
            "import os\nopen(os.environ['QUANTD_OUT_DIR'] + '/x', 'w').write('y')\nprint(os.getpid() != 2, os.path.exists('/etc/os-release'))",
        ),
    );
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), "True True\n");
    assert_eq!(o.read_output("x", 10).unwrap(), b"y");
    c.limits.cpu = Duration::from_secs(1);
    let o = run_with(&c, Job::script("while True: pass"));
    expect(&o, Verdict::CpuTimeout);
}
