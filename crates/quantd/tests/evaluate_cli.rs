//! `quantd evaluate`: a good strategy passes (perhaps with warnings), a biased one fails on its
//! look-ahead, a broken one fails with score 0 and the Python error; a stored version's
//! evaluation is shown beside it by `code show`. The three reports are docs/evaluation.md's
//! examples: this test renders them and fails when the page differs (`QUANTD_UPDATE_DOCS=1`
//! writes them).

mod common;
use common::python::*;
use quantd_engine::evaluate::Evaluation;
use serde_json::Value;
use std::path::Path;

const GOOD: &str = r#"{"entry": "crosses_above(sma(close, $fast), sma(close, $slow))", "exit": "crosses_below(sma(close, $fast), sma(close, $slow))"}"#;

const BROKEN: &str = r#"import quantd as qd


@qd.strategy(params={"n": 10})
def broken(bars, n):
    return qd.Signals(entries=bars.close > bars.nope, exits=bars.close < 0)
"#;

fn evaluate(d: &Path, python: &str, args: &[&str]) -> (i32, Evaluation) {
    let mut all = vec!["evaluate", "--format", "json"];
    all.extend_from_slice(args);
    let out = py(d, python, &all, &[]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "quantd {all:?}: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap(),
        serde_json::from_value(v["evaluation"].clone()).unwrap(),
    )
}

fn has(e: &Evaluation, stage: &str, level: &str, text: &str) -> bool {
    e.stages.iter().any(|s| {
        s.name == stage
            && s.findings
                .iter()
                .any(|f| serde_json::to_value(f.level).unwrap() == level && f.text.contains(text))
    })
}

#[test]
fn good_biased_and_broken_strategies_are_told_apart_and_documented() {
    let (dir, python) = setup();
    let d = dir.path();
    let good = write(d, "smacross.json", GOOD);
    let (code, g) = evaluate(
        d,
        &python,
        &[&good, "--param", "fast=10", "--param", "slow=30"],
    );
    assert_eq!(code, 0, "{g:#?}");
    assert_ne!(g.status.as_str(), "failed", "{g:#?}");
    assert!(g.score >= 50, "{g:#?}");
    let names: Vec<&str> = g.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["static", "runs", "sanity", "robustness"]);
    assert!(has(&g, "sanity", "pass", "no look-ahead"), "{g:#?}");
    assert!(
        g.stages[3]
            .findings
            .iter()
            .any(|f| f.text.contains("`fast` = 10")),
        "sensitivity of each parameter: {g:#?}"
    );
    assert!(
        g.stages[3]
            .findings
            .iter()
            .any(|f| f.text.contains("out-of-sample")),
        "{g:#?}"
    );
    assert!(
        g.stages[3]
            .findings
            .iter()
            .any(|f| f.text.contains("buy-and-hold")),
        "{g:#?}"
    );

    let biased = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/lookahead/biased/strategy_next_open.py");
    let (code, b) = evaluate(d, &python, &[biased.to_str().unwrap()]);
    assert_eq!(code, 4, "{b:#?}");
    assert_eq!(b.status.as_str(), "failed");
    assert!(has(&b, "sanity", "fail", "look-ahead: "), "{b:#?}");
    assert!(
        b.reasons[0].starts_with("fail: look-ahead"),
        "{:?}",
        b.reasons
    );
    assert!(b.score <= 65 && b.score > 0, "{}", b.score);

    let broken = write(d, "broken.py", BROKEN);
    let (code, x) = evaluate(d, &python, &[&broken]);
    assert_eq!(code, 4);
    assert_eq!((x.status.as_str(), x.score), ("failed", 0));
    assert!(has(&x, "runs", "fail", "has no attribute 'nope'"), "{x:#?}");
    assert_eq!(
        x.stages.len(),
        2,
        "nothing after runs that did not run: {x:#?}"
    );

    // docs/evaluation.md shows these three reports as the test suite renders them.
    let rendered = format!(
        "{}\n{}\n{}",
        g.markdown("a good strategy (SMA cross, expressions)", false),
        b.markdown(
            "a biased strategy (enters on tomorrow's open, Python)",
            false
        ),
        x.markdown("a broken strategy (a missing column, Python)", false)
    )
    .replace("\n# ", "\n### ")
    .replace("\n## ", "\n#### ");
    let rendered = format!("### {}", rendered.trim_start_matches("# "));
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/evaluation.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let (start, end) = ("<!-- reports: begin -->\n", "<!-- reports: end -->");
    let (a, b) = (
        text.find(start).expect("the begin marker") + start.len(),
        text.find(end).expect("the end marker"),
    );
    if std::env::var_os("QUANTD_UPDATE_DOCS").is_some() {
        let new = format!("{}{rendered}\n{}", &text[..a], &text[b..]);
        std::fs::write(&page, new).unwrap();
    } else {
        assert_eq!(
            text[a..b].trim_end(),
            rendered.trim_end(),
            "docs/evaluation.md's reports differ from what the suite renders: run this test with QUANTD_UPDATE_DOCS=1"
        );
    }
}

#[test]
fn a_stored_version_shows_its_evaluation() {
    let (dir, python) = setup();
    let d = dir.path();
    py_ok(
        d,
        &python,
        &[
            "code",
            "add",
            "sma",
            "--entry",
            "crosses_above(sma(close, $fast), sma(close, $slow))",
            "--exit",
            "crosses_below(sma(close, $fast), sma(close, $slow))",
        ],
        &[],
    );
    let before = py_ok(d, &python, &["code", "show", "sma"], &[]);
    assert!(before.contains("not evaluated"), "{before}");
    let (_, e) = evaluate(
        d,
        &python,
        &["sma", "--param", "fast=10", "--param", "slow=30"],
    );
    let after = py_ok(d, &python, &["code", "show", "sma"], &[]);
    assert!(
        after.contains(&format!("{} ({}/100)", e.status.as_str(), e.score)),
        "{after}"
    );
}

#[test]
fn a_workspace_that_requires_evaluation_runs_only_code_that_passed() {
    let (dir, python) = setup();
    let d = dir.path();
    let add = |name: &str, entry: &str| {
        py_ok(
            d,
            &python,
            &[
                "code",
                "add",
                name,
                "--entry",
                entry,
                "--exit",
                "close < sma(close, 20)",
            ],
            &[],
        )
    };
    add("trend", "crosses_above(close, sma(close, 20))");
    add("never", "close < 0");
    // Without the policy anything runs.
    py_ok(d, &python, &["backtest", "--code", "never"], &[]);
    py_ok(
        d,
        &python,
        &["policy", "set", "--require-evaluation", "true"],
        &[],
    );
    let refused = |args: &[&str], why: &str| {
        let out = py(d, &python, args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why),
            "{args:?}: {err}"
        );
    };
    refused(&["backtest", "--code", "trend"], "has not been evaluated");
    refused(
        &["backtest", "--entry", "close > 1", "--exit", "close < 1"],
        "runs only evaluated code",
    );
    let (_, e) = evaluate(d, &python, &["trend"]);
    assert_ne!(e.status.as_str(), "failed", "{e:#?}");
    py_ok(d, &python, &["backtest", "--code", "trend"], &[]);
    let (code, e) = evaluate(d, &python, &["never"]);
    assert_eq!((code, e.status.as_str()), (4, "failed"));
    refused(&["backtest", "--code", "never"], "failed its evaluation");
    // Checks and evaluations themselves still run.
    py_ok(
        d,
        &python,
        &["check", "lookahead", "never", "--cuts", "10"],
        &[],
    );
}
