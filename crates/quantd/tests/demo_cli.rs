//! `quantd demo` on a universe smaller than its defaults.

mod common;
use common::*;

#[test]
fn the_demo_runs_every_step_on_a_small_universe() {
    let dir = tempfile::tempdir().unwrap();
    // 20 tickers: fewer than the 50 its sweep takes (it once named SYN0021..SYN0050 anyway).
    let out = ok(dir.path(), &["demo", "--tickers", "20", "--days", "300"]);
    assert!(out.contains("on 20 tickers"), "{out}");
    assert!(out.contains("top 3 by highest Sharpe Ratio"), "{out}");
    assert!(out.contains("pattern   demo-routine"), "{out}");
    assert!(
        out.contains("✓ scan (scan) completed") && out.contains("cached"),
        "the routine reuses the demo's scan: {out}"
    );
}
