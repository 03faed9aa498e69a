//! The warm zygote: jobs forked from it are isolated from each other, it restarts after a crash,
//! entry points run over Arrow IPC batches, validation runs in it, and jobs start fast. (The
//! adversarial suite runs through the zygote too: `adversarial.rs`, module `zygote`.)

mod common;
use common::*;
use quantd_sandbox::{Bars, CancelToken, EntryCall, Isolation, Job, Verdict, Zygote, validate};
use std::time::{Duration, Instant};

fn zrun(code: &str) -> quantd_sandbox::Outcome {
    run_with_in(Mode::Zygote, &config(), Job::script(code))
}

#[test]
fn concurrent_jobs_see_neither_each_others_files_nor_sockets() {
    let tok = token();
    // A makes its files and socket, says when they are ready (wall time), and keeps them.
    let a = std::thread::spawn({
        let tok = tok.clone();
        move || {
            zrun(&format!(
                r#"
import socket, time, os
for d in ["/tmp", "/dev/shm", "/work", "/out"]:
    open(f"{{d}}/{tok}", "w").write("x")
s = socket.socket(socket.AF_UNIX); s.bind("\0{tok}"); s.listen()
print(time.time(), flush=True)
time.sleep(4)
print(time.time(), flush=True)
"#
            ))
        }
    });
    // B looks for them again and again for 3 s, noting when; the test then checks that some of
    // B's looks fell while A held everything (no sleep guessing when A is ready).
    let b = zrun(&format!(
        r#"
import socket, os, json, time
seen, looks = {{}}, []
end = time.time() + 3
while time.time() < end:
    looks.append(time.time())
    for d in ["/tmp", "/dev/shm", "/work", "/out"]:
        if os.path.exists(f"{{d}}/{tok}"):
            seen[d] = True
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect("\0{tok}"); seen["abstract"] = "connected"
    except ConnectionRefusedError:
        pass
    finally:
        s.close()
    time.sleep(0.05)
res = {{"seen": seen, "looks": looks}}
res["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
res["jobs"] = os.listdir("/jobs")
print(json.dumps(res))
"#
    ));
    expect(&b, Verdict::Ok);
    let a = a.join().unwrap();
    expect(&a, Verdict::Ok);
    let times: Vec<f64> = String::from_utf8_lossy(&a.stdout)
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let (ready, done) = (times[0], times[1]);
    let res: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    let during = res["looks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| (ready..done).contains(&t.as_f64().unwrap()))
        .count();
    assert!(during > 0, "B never looked while A held its files: {res}");
    assert_eq!(res["seen"], serde_json::json!({}), "{res}");
    assert_eq!(res["pids"], serde_json::json!([1]), "only itself: {res}");
    assert_eq!(res["jobs"], serde_json::json!([]), "{res}");
}

/// Review S8: every job is a fork of the zygote, so whatever the zygote held when it forked is
/// in the job's memory. A job must find no earlier job's request (argv, params, environment) in
/// its own writable memory; several rounds, since whether freed memory survives depends on reuse.
#[test]
fn a_job_finds_no_earlier_jobs_request_in_its_memory() {
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    let z = Zygote::start(&c).unwrap();
    let run = |job: Job| z.run(&job, &CancelToken::new()).unwrap();
    let mut markers = Vec::new();
    for round in 0..5 {
        let leaked = leaked_markers(&run, &mut markers);
        assert!(
            leaked.is_empty(),
            "round {round}: found {leaked:?} of {markers:?}"
        );
    }
}

#[test]
fn a_crashed_zygote_is_restarted() {
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    let z = Zygote::start(&c).unwrap();
    assert_eq!(z.info().unwrap().starts, 1);
    expect(
        &z.run(&Job::script("print(1)"), &CancelToken::new())
            .unwrap(),
        Verdict::Ok,
    );
    // Kill the zygote process (the python descendant of our shim running quantd.zygote).
    let shim = z.shim_pid().unwrap();
    let victims: Vec<i32> = zygote_pids()
        .into_iter()
        .filter(|p| descends_from(*p, shim))
        .collect();
    assert!(!victims.is_empty());
    for p in &victims {
        unsafe_free_kill(*p);
    }
    // The next job finds it dead (or loses the race and is told so), and the one after runs.
    let mut ok = false;
    for _ in 0..3 {
        let o = z
            .run(&Job::script("print(2)"), &CancelToken::new())
            .unwrap();
        if o.verdict == Verdict::Ok {
            ok = true;
            break;
        }
        expect(&o, Verdict::Internal);
    }
    assert!(ok);
    assert_eq!(z.info().unwrap().starts, 2);
}

fn zygote_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .contains("quantd.zygote")
                .then_some(pid)
        })
        .collect()
}

fn descends_from(mut pid: i32, ancestor: u32) -> bool {
    for _ in 0..20 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        pid = after.split(' ').nth(1).unwrap().parse().unwrap();
        if pid as u32 == ancestor {
            return true;
        }
        if pid <= 1 {
            return false;
        }
    }
    false
}

fn unsafe_free_kill(pid: i32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

#[test]
fn a_scanner_runs_over_an_arrow_batch() {
    let script = r#"
import pyarrow as pa, numpy as np
n = 50
tick, close = [], []
for i, t in enumerate(["AAA", "BBB", "CCC"]):
    tick += [t] * n
    close += list(np.arange(n, dtype=float) * (1 if i != 1 else -1))
tab = pa.table({"ticker": tick, "date": pa.array(np.tile(np.arange(n).astype("datetime64[D]").astype("datetime64[ms]"), 3)),
                "open": close, "high": close, "low": close, "close": close, "volume": [1.0] * len(close)})
with pa.OSFile("/out/bars.arrow", "wb") as f, pa.ipc.new_file(f, tab.schema) as w:
    w.write_table(tab)
"#;
    let make = zrun(script);
    expect(&make, Verdict::Ok);
    let bars = make.read_output("bars.arrow", 1 << 20).unwrap();
    let call = EntryCall {
        code: r#"
import quantd as qd

@qd.scanner(params={"n": 5})
def rising(bars, n):
    sma = bars.close.rolling(n).mean()
    return bars.assign(signal=bars.close > sma, sma=sma)[["signal", "sma"]]
"#
        .into(),
        entry: None,
        params: serde_json::json!({"n": 10}),
        bars: Bars::Ipc(bars),
        batch: true,
    };
    let o = run_with_in(Mode::Zygote, &config(), call.job());
    expect(&o, Verdict::Ok);
    let ipc = o.result_ipc(1 << 20).unwrap().unwrap();
    let r = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(ipc), None).unwrap();
    let names: Vec<String> = r
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["ticker", "date", "signal", "sma"]);
    let rows: usize = r.map(|b| b.unwrap().num_rows()).sum();
    // AAA and CCC rise: rows 9 (the first full SMA of 10) through 49 signal; BBB falls.
    assert_eq!(rows, 2 * 41);
}

#[test]
fn validation_runs_in_the_zygote_with_positions_and_is_fast() {
    let z = zygote();
    let good = "import quantd as qd\nimport pandas as pd\n\n@qd.scanner(params={\"n\": 3})\ndef s(bars, n):\n    return bars.close > bars.close.rolling(n).mean()\n";
    let r = validate(z, good, Some("s")).unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.entry_points[0].name, "s");
    assert_eq!(r.entry_points[0].params["n"], 3);
    let r = validate(z, "import os\nimport quantd as qd\n\ndef f(:\n", None).unwrap();
    assert!(!r.ok);
    assert_eq!(
        (r.errors[0].line, r.errors[0].column),
        (Some(4), Some(7)),
        "{r:?}"
    );
    let r = validate(
        z,
        "import socket\nimport quantd as qd\n\n@qd.scanner(params={\"m\": 1})\ndef s(bars, n):\n    return bars.close > 0\n",
        Some("t"),
    )
    .unwrap();
    let msgs: Vec<&str> = r.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("'socket' is not allowed")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("param 'm'")), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m.contains("argument 'n' has no value")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("named 't'")), "{msgs:?}");
    let mut times: Vec<Duration> = (0..15)
        .map(|_| validate(z, good, None).unwrap().elapsed)
        .collect();
    times.sort();
    eprintln!("validation p50 {:?}", times[7]);
    // Target 50 ms on an idle machine; the bound is loose because tests share the 2 cores.
    assert!(times[7] < Duration::from_millis(250), "{times:?}");
}

#[test]
fn warm_start_is_fast_and_pandas_is_ready() {
    let z = zygote();
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let o = z
            .run(
                &Job::script("import sys\nassert 'pandas' in sys.modules\nimport pandas\n"),
                &CancelToken::new(),
            )
            .unwrap();
        expect(&o, Verdict::Ok);
        times.push(t.elapsed());
    }
    times.sort();
    eprintln!("zygote job p50 {:?}", times[10]);
    assert!(times[10] < Duration::from_millis(300), "{times:?}");
}

#[test]
fn unsafe_mode_through_a_zygote_has_limits() {
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    c.isolation = Isolation::UnsafeNoSandbox;
    let z = Zygote::start(&c).unwrap();
    let o = z
        .run(
            &Job::script(
                "import os\nopen(os.environ['QUANTD_OUT_DIR'] + '/x', 'w').write('y')\nprint(os.getpid() != 1, os.path.exists('/etc/os-release'))",
            ),
            &CancelToken::new(),
        )
        .unwrap();
    expect(&o, Verdict::Ok);
    assert_eq!(stdout(&o), "True True\n");
    assert_eq!(o.read_output("x", 10).unwrap(), b"y");
    let mut limits = small_limits();
    limits.cpu = Duration::from_secs(1);
    limits.wall = Duration::from_secs(30);
    let o = z
        .run(
            &Job::script("while True: pass").with_limits(limits),
            &CancelToken::new(),
        )
        .unwrap();
    expect(&o, Verdict::CpuTimeout);
}

#[test]
fn a_missing_package_is_a_clear_start_error() {
    let mut c = config();
    // No SDK on the path: `python -m quantd.zygote` cannot even be found.
    c.sdk_dir = None;
    let err = Zygote::start(&c).map(drop).unwrap_err();
    // The server's problem, not the user's: class internal, retried (newcomer D17).
    assert!(
        matches!(err, quantd_sandbox::SandboxError::CannotStart { .. }),
        "{err:?}"
    );
    assert_eq!(err.class(), quantd_core::ErrorClass::Internal);
    let e = err.to_string();
    assert!(
        e.contains("No module named quantd") || e.contains("quantd.zygote"),
        "{e}"
    );
    assert!(e.contains("quantd runtime setup"), "{e}");
}
