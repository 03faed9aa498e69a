//! The job sees only allow-listed environment variables, never the server's secrets. A test
//! binary of its own: it changes this process's environment, which no other test may race.

#![allow(unsafe_code)]

mod common;
use common::*;
use quantd_sandbox::{DEFAULT_ENV, Verdict};

#[test]
fn environment_is_an_allow_list_and_secrets_do_not_leak() {
    // SAFETY: this test binary has a single test, so no other thread reads the environment now.
    unsafe { std::env::set_var("QUANTD_FAKE_SECRET", "hunter2-sk-live") };
    let o = run_contained(
        &config(),
        r#"
import os, json, glob
leaks = []
for p in glob.glob("/proc/*/environ"):
    try:
        if b"hunter2" in open(p, "rb").read():
            leaks.append(p)
    except OSError:
        pass
print(json.dumps({"env": sorted(os.environ), "leaks": leaks, "self": open("/proc/self/environ", "rb").read().count(b"\0")}))
"#,
    );
    expect(&o, Verdict::Ok);
    let res: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut allowed: Vec<&str> = DEFAULT_ENV.iter().map(|(k, _)| *k).collect();
    allowed.extend(["LC_CTYPE", "QUANTD_JOB_DIR", "QUANTD_OUT_DIR"]); // LC_CTYPE: Python's locale coercion
    for k in res["env"].as_array().unwrap() {
        assert!(
            allowed.contains(&k.as_str().unwrap()),
            "unexpected variable {k}"
        );
    }
    assert!(
        !res["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "QUANTD_FAKE_SECRET")
    );
    assert_eq!(res["leaks"], serde_json::json!([]));
    assert_eq!(res["self"], DEFAULT_ENV.len() + 2);
}
