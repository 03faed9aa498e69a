//! A zygote's jobs see only allow-listed variables, never the server's secrets (a test binary
//! of its own: it changes this process's environment before the zygote starts).

#![allow(unsafe_code)]

mod common;
use common::*;
use quantd_sandbox::{DEFAULT_ENV, Job, Verdict};

#[test]
fn zygote_jobs_get_an_allow_listed_environment() {
    // SAFETY: this test binary has a single test, so no other thread reads the environment now.
    unsafe { std::env::set_var("QUANTD_FAKE_SECRET", "hunter2-sk-live") };
    let mut job = Job::script(
        r#"
import os, json, glob
leaks = [p for p in glob.glob("/proc/*/environ") if b"hunter2" in open(p, "rb").read()]
print(json.dumps({"env": sorted(os.environ), "leaks": leaks, "extra": os.environ.get("JOB_VAR")}))
"#,
    );
    job.env.push(("JOB_VAR".into(), "1".into()));
    let o = run_with_in(Mode::Zygote, &config(), job);
    expect(&o, Verdict::Ok);
    let res: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut allowed: Vec<&str> = DEFAULT_ENV.iter().map(|(k, _)| *k).collect();
    allowed.extend([
        "LC_CTYPE",
        "QUANTD_JOB_DIR",
        "QUANTD_OUT_DIR",
        "PYTHONPATH",
        "JOB_VAR",
    ]);
    for k in res["env"].as_array().unwrap() {
        assert!(
            allowed.contains(&k.as_str().unwrap()),
            "unexpected variable {k}"
        );
    }
    assert_eq!(res["leaks"], serde_json::json!([]));
    assert_eq!(res["extra"], "1");
}
