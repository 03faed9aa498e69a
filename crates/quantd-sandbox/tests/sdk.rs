//! The Python SDK and harness inside the sandbox: Arrow IPC bars in, signals out; validation;
//! the `QUANTD_RESULT` line; start latency.

mod common;
use arrow_array::{
    Array, BooleanArray, Float64Array, Int64Array, RecordBatch, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use common::*;
use quantd_sandbox::{Job, SandboxConfig, Verdict};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sdk_config() -> SandboxConfig {
    let mut c = config();
    c.sdk_dir = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python"));
    c
}

fn bars_ipc(close: &[f64]) -> Vec<u8> {
    let n = close.len();
    let day = 86_400_000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "date",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("open", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Int64, false),
    ]));
    let f = || Arc::new(Float64Array::from(close.to_vec())) as Arc<dyn Array>;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..n as i64).map(|i| 1_704_067_200_000 + i * day),
            )),
            f(),
            f(),
            f(),
            f(),
            Arc::new(Int64Array::from_iter_values(
                (0..n as i64).map(|i| 1000 + i),
            )),
        ],
    )
    .unwrap();
    let mut buf = Vec::new();
    let mut w = arrow_ipc::writer::FileWriter::try_new(&mut buf, &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    buf
}

fn read_ipc(bytes: Vec<u8>) -> RecordBatch {
    let r = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let batches: Vec<RecordBatch> = r.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1);
    batches.into_iter().next().unwrap()
}

fn harness_job(code: &str, params: &str, close: &[f64]) -> Job {
    Job {
        args: vec![
            "-m".into(),
            "quantd.harness".into(),
            "--code".into(),
            "/job/main.py".into(),
            "--bars".into(),
            "/job/bars.arrow".into(),
            "--out".into(),
            "/out/result.arrow".into(),
            "--params".into(),
            params.into(),
        ],
        ..Job::default()
    }
    .with_file("main.py", code)
    .with_file("bars.arrow", bars_ipc(close))
}

#[test]
fn scanner_returns_signal_and_indicator_columns_as_arrow() {
    let code = r#"
import quantd as qd

@qd.scanner(params={"n": 3})
def above_sma(bars, n):
    sma = bars.close.rolling(n).mean()
    return bars.assign(signal=bars.close > sma, sma=sma)[["signal", "sma"]]
"#;
    let o = run_with(
        &sdk_config(),
        harness_job(code, r#"{"n": 2}"#, &[1.0, 2.0, 3.0, 2.0, 5.0]),
    );
    expect(&o, Verdict::Ok);
    let batch = read_ipc(o.read_output("result.arrow", 1 << 20).unwrap());
    let names: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["date", "signal", "sma"]);
    let signal = batch
        .column(1)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert_eq!(
        signal.iter().map(Option::unwrap).collect::<Vec<_>>(),
        [false, true, true, false, true]
    );
    let sma = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(sma.value(0).is_nan());
    assert_eq!(sma.value(4), 3.5);
}

#[test]
fn strategy_returns_entries_and_exits() {
    let code = r#"
import quantd as qd

@qd.strategy(params={"fast": 1, "slow": 2})
def cross(bars, fast, slow):
    f, s = bars.close.rolling(fast).mean(), bars.close.rolling(slow).mean()
    return qd.Signals(entries=(f > s) & (f.shift() <= s.shift()), exits=(f < s) & (f.shift() >= s.shift()))
"#;
    let o = run_with(
        &sdk_config(),
        harness_job(code, "{}", &[3.0, 2.0, 3.0, 2.0, 1.0, 4.0]),
    );
    expect(&o, Verdict::Ok);
    let batch = read_ipc(o.read_output("result.arrow", 1 << 20).unwrap());
    let col = |i: usize| -> Vec<bool> {
        let a = batch
            .column(i)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        a.iter().map(Option::unwrap).collect()
    };
    assert_eq!(batch.schema().field(1).name(), "entries");
    assert_eq!(col(1), [false, false, true, false, false, true]);
    assert_eq!(col(2), [false, false, false, true, false, false]);
}

#[test]
fn contract_violations_are_runtime_errors_with_a_clear_message() {
    let code = "import quantd as qd\n\n@qd.strategy(params={'k': 1})\ndef s(bars, k):\n    return bars.close > k\n";
    let o = run_with(&sdk_config(), harness_job(code, "{}", &[1.0, 2.0]));
    expect(&o, Verdict::RuntimeError);
    assert!(o.traceback.as_deref().unwrap().ends_with(
        "quantd._sdk.ContractError: strategy 's' must return qd.Signals(entries=..., exits=...), not Series"
    ), "{}", show(&o));
    let o = run_with(
        &sdk_config(),
        harness_job(code, r#"{"nope": 2}"#, &[1.0, 2.0]),
    );
    expect(&o, Verdict::RuntimeError);
    assert!(
        o.traceback
            .as_deref()
            .unwrap()
            .contains("has no parameter(s) nope"),
        "{}",
        show(&o)
    );
}

#[test]
fn result_line_is_printed_once_as_json() {
    let o = run_with(
        &sdk_config(),
        Job::script(
            "import quantd as qd, numpy as np\nprint('Return: 1%')\nqd.result(ret=np.float64(12.5), trades=np.int64(3), sharpe=float('nan'))\n",
        ),
    );
    expect(&o, Verdict::Ok);
    assert_eq!(
        stdout(&o),
        "Return: 1%\nQUANTD_RESULT {\"ret\": 12.5, \"sharpe\": null, \"trades\": 3}\n"
    );
}

#[test]
fn validation_runs_in_the_sandbox_with_positions() {
    let validate = |code: &str| {
        let job = Job {
            args: ["-m", "quantd.validate", "/job/main.py", "--entry", "f"]
                .map(Into::into)
                .to_vec(),
            ..Job::default()
        }
        .with_file("main.py", code);
        let o = run_with(&sdk_config(), job);
        expect(&o, Verdict::Ok);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let r = validate(
        "import quantd as qd\n@qd.scanner(params={'a': 1})\ndef f(bars, a):\n    return bars.close > (a\n",
    );
    assert_eq!(r["ok"], false);
    assert_eq!(r["errors"][0]["line"], 4);
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("syntax error"),
        "{r}"
    );
    let r = validate(
        "import quantd as qd\nimport socket\n@qd.scanner(params={'a': 1, 'z': 2})\ndef f(bars, a):\n    return bars.close > a\n",
    );
    let msgs: Vec<&str> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(r["errors"][0]["line"], 2);
    assert!(
        msgs[0].starts_with("import of 'socket' is not allowed"),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("declares param 'z'"), "{msgs:?}");
    let r = validate(
        "import quantd as qd\n@qd.scanner(params={'a': 1})\ndef f(bars, a):\n    return bars.close > a\n",
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["entry_points"][0]["params"]["a"], 1);
}

/// Cold start latency (no zygote yet): a sandboxed `python -c pass`, and one importing pandas.
/// Prints p50/p90; asserts only a generous bound so the suite stays honest under load.
#[test]
fn start_latency_is_measured() {
    let c = config();
    let mut times = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let o = run_with(
            &c,
            Job {
                args: vec!["-c".into(), "pass".into()],
                ..Job::default()
            },
        );
        expect(&o, Verdict::Ok);
        times.push(start.elapsed());
    }
    times.sort();
    let start = Instant::now();
    let o = run_with(
        &c,
        Job {
            args: vec!["-c".into(), "import pandas".into()],
            ..Job::default()
        },
    );
    expect(&o, Verdict::Ok);
    let pandas = start.elapsed();
    eprintln!(
        "sandboxed start: python -c pass p50 {:?} p90 {:?}; with import pandas {:?}",
        times[5], times[9], pandas
    );
    assert!(times[5] < Duration::from_secs(2), "{times:?}");
}
