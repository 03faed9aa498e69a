//! Functions of time over intraday bars. Every value is checked bar by bar on a hand-built series
//! of minute bars in two sessions (a Friday and the Monday after), against the session arithmetic
//! written out plainly here, with a few values known by hand; then times of day as strings, the
//! columns a program asks for, how `let`s and pack columns hide the built-in names, and the
//! compile errors (with their line and column).

mod common;
use common::{assert_close_named, evaluate_on, program};
use quantd_expr::{
    Limits, Params, Program, Schema, Workspace, check, clock, compile, compile_set, compile_with,
    is_clock_column,
};

/// The first bar of the Monday session.
const MONDAY: usize = 390;
/// All bars: 390 on Friday (09:30–15:59), 210 on Monday (09:30–12:59, a short day).
const BARS: usize = 600;

/// Minute bars and their clock, as the engine would pass them.
struct Minutes {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    session: Vec<f64>,
    minute_of_day: Vec<f64>,
    weekday: Vec<f64>,
    /// The local hour and minute each bar was built at.
    hh: Vec<f64>,
    mm: Vec<f64>,
}

/// Friday 2024-01-05 (day 19727 since 1970-01-01, weekday 4) and Monday 2024-01-08 (day 19730,
/// weekday 0). Monday opens 3% above Friday's last close, and its first bar has no volume.
fn minutes() -> Minutes {
    let mut m = Minutes {
        open: vec![],
        high: vec![],
        low: vec![],
        close: vec![],
        volume: vec![],
        session: vec![],
        minute_of_day: vec![],
        weekday: vec![],
        hh: vec![],
        mm: vec![],
    };
    let days = [(19_727.0, 4.0, 390), (19_730.0, 0.0, 210)];
    let mut k = 0usize;
    for (day, weekday, bars) in days {
        for b in 0..bars {
            let minute = 9 * 60 + 30 + b;
            let close = 100.0 + 3.0 * (k as f64 * 0.05).sin() + 0.01 * k as f64;
            let open = match k {
                0 => 100.0,
                MONDAY => m.close[k - 1] * 1.03,
                _ => m.close[k - 1],
            };
            m.open.push(open);
            m.close.push(close);
            m.high.push(open.max(close) + 0.05 + 0.02 * (k % 5) as f64);
            m.low.push(open.min(close) - 0.05 - 0.03 * (k % 3) as f64);
            m.volume.push(if k == MONDAY {
                0.0
            } else {
                1000.0 + 37.0 * (k % 11) as f64
            });
            m.session.push(day);
            m.minute_of_day.push(minute as f64);
            m.weekday.push(weekday);
            m.hh.push((minute / 60) as f64);
            m.mm.push((minute % 60) as f64);
            k += 1;
        }
    }
    assert_eq!(k, BARS);
    m
}

impl Minutes {
    fn column(&self, name: &str) -> &[f64] {
        match name {
            "open" => &self.open,
            "high" => &self.high,
            "low" => &self.low,
            "close" => &self.close,
            "volume" => &self.volume,
            clock::SESSION => &self.session,
            clock::MINUTE_OF_DAY => &self.minute_of_day,
            clock::WEEKDAY => &self.weekday,
            other => panic!("no column {other}"),
        }
    }

    /// The first bar of bar `i`'s session.
    fn start(&self, i: usize) -> usize {
        if i >= MONDAY { MONDAY } else { 0 }
    }
}

/// Outputs and indicators of `p` over the minute bars `m`.
fn run(p: &Program, m: &Minutes) -> (Vec<Vec<bool>>, Vec<Vec<f64>>) {
    evaluate_on(p, |c| m.column(c))
}

/// The values of a number on every bar.
fn values(expr: &str, m: &Minutes) -> Vec<f64> {
    let (_, mut inds) = run(&program(&format!("let v = {expr};\nv == v")), m);
    inds.remove(0)
}

/// The values of a condition on every bar, as its indicator column reports them (1 or 0).
fn flags(expr: &str, m: &Minutes) -> Vec<f64> {
    let (_, mut inds) = run(&program(&format!("let v = {expr};\nv")), m);
    inds.remove(0)
}

/// The bars where a condition holds.
fn hits(expr: &str, m: &Minutes) -> Vec<usize> {
    let (outs, _) = run(&program(expr), m);
    (0..BARS).filter(|&i| outs[0][i]).collect()
}

#[test]
fn clock_values_bar_by_bar() {
    let m = minutes();
    assert_close_named("hour", &values("hour", &m), &m.hh, 0.0);
    assert_close_named("minute", &values("minute", &m), &m.mm, 0.0);
    let tod: Vec<f64> = (0..BARS).map(|i| m.hh[i] * 60.0 + m.mm[i]).collect();
    assert_close_named("time_of_day", &values("time_of_day", &m), &tod, 0.0);
    let dow: Vec<f64> = (0..BARS)
        .map(|i| if i < MONDAY { 4.0 } else { 0.0 })
        .collect();
    assert_close_named("day_of_week", &values("day_of_week", &m), &dow, 0.0);
    // Known by hand: the first and last bar of each session.
    let hour = values("hour()", &m);
    let minute = values("minute()", &m);
    for (i, h, mi) in [
        (0, 9.0, 30.0),
        (389, 15.0, 59.0),
        (MONDAY, 9.0, 30.0),
        (599, 12.0, 59.0),
    ] {
        assert_eq!((hour[i], minute[i]), (h, mi), "bar {i}");
    }
    assert_eq!(values("time_of_day", &m)[389], 959.0);
}

#[test]
fn session_values_bar_by_bar() {
    let m = minutes();
    let since: Vec<f64> = (0..BARS).map(|i| (i - m.start(i)) as f64).collect();
    assert_close_named(
        "bars_since_open",
        &values("bars_since_open", &m),
        &since,
        0.0,
    );
    let first: Vec<f64> = (0..BARS)
        .map(|i| if i == m.start(i) { 1.0 } else { 0.0 })
        .collect();
    assert_close_named(
        "first_bar_of_day",
        &flags("first_bar_of_day", &m),
        &first,
        0.0,
    );
    assert_eq!(hits("first_bar_of_day", &m), [0, MONDAY]);
    let open: Vec<f64> = (0..BARS).map(|i| m.open[m.start(i)]).collect();
    assert_close_named("day_open", &values("day_open", &m), &open, 0.0);
    let high: Vec<f64> = (0..BARS)
        .map(|i| {
            m.high[m.start(i)..=i]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max)
        })
        .collect();
    assert_close_named("day_high", &values("day_high", &m), &high, 0.0);
    let low: Vec<f64> = (0..BARS)
        .map(|i| {
            m.low[m.start(i)..=i]
                .iter()
                .copied()
                .fold(f64::MAX, f64::min)
        })
        .collect();
    assert_close_named("day_low", &values("day_low", &m), &low, 0.0);
    let prev: Vec<f64> = (0..BARS)
        .map(|i| {
            if i < MONDAY {
                f64::NAN
            } else {
                m.close[MONDAY - 1]
            }
        })
        .collect();
    assert_close_named("prev_day_close", &values("prev_day_close", &m), &prev, 0.0);
    let vwap: Vec<f64> = (0..BARS)
        .map(|i| {
            let bars = m.start(i)..=i;
            let typical = |k: usize| (m.high[k] + m.low[k] + m.close[k]) / 3.0;
            let pv: f64 = bars.clone().map(|k| typical(k) * m.volume[k]).sum();
            let v: f64 = bars.map(|k| m.volume[k]).sum();
            if v == 0.0 { f64::NAN } else { pv / v }
        })
        .collect();
    assert_close_named("vwap", &values("vwap", &m), &vwap, 1e-12);

    // Known by hand: Monday opens 3% above Friday's last close, has no volume on its first bar
    // (so no VWAP yet), and its VWAP on the second bar is that bar's typical price.
    let got = values("prev_day_close", &m);
    assert_eq!(got[MONDAY], m.close[389]);
    assert_eq!(values("day_open", &m)[599], m.close[389] * 1.03);
    let got = values("vwap", &m);
    assert!(got[MONDAY].is_nan());
    let typical = (m.high[MONDAY + 1] + m.low[MONDAY + 1] + m.close[MONDAY + 1]) / 3.0;
    assert!((got[MONDAY + 1] - typical).abs() < 1e-12);
    assert_eq!(values("day_open", &m)[0], 100.0);
}

#[test]
fn nan_rules() {
    let m = minutes();
    // No previous session on Friday: comparisons with `prev_day_close` are false there.
    let either = hits("open > prev_day_close or open <= prev_day_close", &m);
    assert_eq!(either, (MONDAY..BARS).collect::<Vec<_>>());
    assert_eq!(
        hits("first_bar_of_day and open > prev_day_close * 1.02", &m),
        [MONDAY]
    );
    // No VWAP on Monday's first bar: neither side of the comparison holds.
    let either = hits("close > vwap or close <= vwap", &m);
    assert!(!either.contains(&MONDAY));
    assert_eq!(either.len(), BARS - 1);
}

#[test]
fn time_strings_select_exactly_their_bars() {
    let m = minutes();
    let after: Vec<usize> = (15..MONDAY).chain(MONDAY + 15..BARS).collect();
    assert_eq!(hits("time_of_day >= \"09:45\"", &m), after);
    assert_eq!(hits("\"09:45\" <= time_of_day", &m), after);
    assert_eq!(hits("time_of_day() >= \"09:45\"", &m), after);
    assert_eq!(hits("time_of_day >= 585", &m), after);
    // Through a `let` of `time_of_day`.
    assert_eq!(hits("let t = time_of_day;\nt >= \"09:45\"", &m), after);
    let before: Vec<usize> = (0..15).chain(MONDAY..MONDAY + 15).collect();
    assert_eq!(hits("time_of_day < \"09:45\"", &m), before);
    assert_eq!(hits("time_of_day == \"12:00\"", &m), [150, MONDAY + 150]);
    assert_eq!(hits("time_of_day != \"09:30\"", &m).len(), BARS - 2);
    assert_eq!(
        hits("time_of_day >= \"15:00\" and time_of_day < \"16:00\"", &m),
        (330..MONDAY).collect::<Vec<_>>()
    );
    assert!(hits("time_of_day > \"23:59\"", &m).is_empty());
}

#[test]
fn documented_scan_against_a_plain_loop() {
    let m = minutes();
    let src = "time_of_day >= \"09:45\" and close > vwap and bars_since_open >= 15";
    let vwap = values("vwap", &m);
    let want: Vec<usize> = (0..BARS)
        .filter(|&i| m.minute_of_day[i] >= 585.0 && m.close[i] > vwap[i] && i - m.start(i) >= 15)
        .collect();
    let got = hits(src, &m);
    assert_eq!(got, want);
    assert!(
        !got.is_empty() && got.len() < BARS / 2,
        "{} hits",
        got.len()
    );
    let want: Vec<usize> = (0..BARS)
        .filter(|&i| {
            m.close[i]
                >= m.high[m.start(i)..=i]
                    .iter()
                    .copied()
                    .fold(f64::MIN, f64::max)
                && m.hh[i] >= 13.0
                && i < MONDAY
        })
        .collect();
    assert_eq!(
        hits("close >= day_high and hour >= 13 and day_of_week == 4", &m),
        want
    );
}

#[test]
fn one_workspace_for_several_tickers() {
    let m = minutes();
    let p = program("let p = prev_day_close;\nlet v = vwap;\nclose > v and first_bar_of_day");
    let mut ws = Workspace::new();
    let all: Vec<&[f64]> = p.columns().iter().map(|c| m.column(c)).collect();
    let (full_p, full_v) = {
        let e = p.evaluate(&all, &mut ws).unwrap();
        (e.indicator(0).to_vec(), e.indicator(1).to_vec())
    };
    // Monday alone, in the same workspace: its own first session, so no previous close.
    let monday: Vec<&[f64]> = all.iter().map(|c| &c[MONDAY..]).collect();
    let e = p.evaluate(&monday, &mut ws).unwrap();
    assert!(e.indicator(0).iter().all(|v| v.is_nan()));
    assert!(full_p[MONDAY..].iter().all(|&v| v == m.close[389]));
    let got: Vec<u64> = e.indicator(1).iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = full_v[MONDAY..].iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want, "VWAP restarts with the session either way");
}

#[test]
fn columns_list_the_clock_only_when_used() {
    let cases: [(&str, &[&str]); 7] = [
        ("close > open", &["open", "close"]),
        ("close > 1", &["close"]),
        ("hour >= 10", &["@minute_of_day"]),
        ("day_of_week == 0", &["@weekday"]),
        (
            "time_of_day >= \"09:45\" and close > vwap and bars_since_open >= 15",
            &[
                "high",
                "low",
                "close",
                "volume",
                "@session",
                "@minute_of_day",
            ],
        ),
        (
            "day_of_week == 0 and first_bar_of_day and minute == 0",
            &["@session", "@minute_of_day", "@weekday"],
        ),
        ("day_open > prev_day_close", &["open", "close", "@session"]),
    ];
    for (src, want) in cases {
        let p = program(src);
        assert_eq!(p.columns(), want, "{src}");
        let info = check(src, &Schema::ohlcv()).unwrap();
        assert_eq!(info.columns, want, "check: {src}");
        let clocks = p.columns().iter().filter(|c| is_clock_column(c)).count();
        let expected = want.iter().filter(|c| c.starts_with('@')).count();
        assert_eq!(clocks, expected, "{src}");
    }
    // A set asks for the union, the clock after the pack's columns.
    let p = compile_set(
        &[("entry", "close > vwap"), ("exit", "close < open")],
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap();
    assert_eq!(
        p.columns(),
        ["open", "high", "low", "close", "volume", "@session"]
    );
    assert_eq!(clock::COLUMNS, ["@session", "@minute_of_day", "@weekday"]);
    assert_eq!(
        [clock::SESSION, clock::MINUTE_OF_DAY, clock::WEEKDAY],
        clock::COLUMNS
    );
}

#[test]
fn plan_cost_and_limits() {
    let p = program("close > vwap and bars_since_open >= 15 and not first_bar_of_day");
    // `first_bar_of_day` is `bars_since_open == 0`: one kernel serves both.
    assert_eq!(p.cost().kernel_calls, 2, "{}", p.explain());
    let explain = p.explain();
    assert!(
        explain.contains("vwap(@session, high, low, close, volume)"),
        "{explain}"
    );
    assert!(explain.contains("bars_since_open(@session)"), "{explain}");
    // A session kernel is priced above reading its five columns and comparing each of them.
    let vwap = program("vwap > 0").cost();
    let columns =
        program("high > 0 and low > 0 and close > 0 and volume > 0 and day_of_week > 0").cost();
    assert!(
        vwap.work_per_bar > columns.work_per_bar,
        "{vwap:?} {columns:?}"
    );
    // Its memory: the VWAP's number buffer and the condition's.
    assert_eq!(vwap.bytes_per_bar, 8 + 1);
    // Session kernels count against the limit on kernel calls.
    let limits = Limits {
        max_kernel_calls: 1,
        ..Limits::default()
    };
    let err = compile_with(
        "close > vwap and day_high > close",
        &Schema::ohlcv(),
        &Params::new(),
        &limits,
    )
    .unwrap_err();
    assert_eq!(err.diagnostics[0].limit, Some("max_kernel_calls"));
    // The bare name and the call are one node.
    assert_eq!(program("hour == hour()").explain().lines().count(), 2);
}

#[test]
fn lets_and_pack_columns_hide_the_built_in_names() {
    let m = minutes();
    // A pack with a `vwap` column of its own: the bare name is the column.
    let schema = Schema::new(["open", "high", "low", "close", "volume", "vwap"]);
    let own = compile("close > vwap", &schema, &Params::new()).unwrap();
    assert_eq!(own.columns(), ["close", "vwap"]);
    let flat = vec![101.0; BARS];
    let mut ws = Workspace::new();
    let e = own.evaluate(&[&m.close, &flat], &mut ws).unwrap();
    let want: Vec<bool> = m.close.iter().map(|&c| c > 101.0).collect();
    assert_eq!(e.output(0), &want[..]);
    // The call is the session VWAP whatever the pack has.
    let session = compile("close > vwap()", &schema, &Params::new()).unwrap();
    assert_eq!(
        session.columns(),
        ["high", "low", "close", "volume", "@session"]
    );
    // A `let` named like a value hides it below; the call still means the built-in.
    let p = program("let hour = high - low;\nhour > 0.1 and hour() >= 10");
    assert_eq!(p.columns(), ["high", "low", "@minute_of_day"]);
    let (outs, inds) = run(&p, &m);
    for i in 0..BARS {
        let range = m.high[i] - m.low[i];
        assert_eq!(inds[0][i], range);
        assert_eq!(outs[0][i], range > 0.1 && m.hh[i] >= 10.0, "bar {i}");
    }
    // Used before its `let`: an error, not the built-in, and the help says how to get it.
    let err = compile(
        "let a = hour + 1;\nlet hour = 2;\na > 0",
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.message, "`hour` is used before its `let`");
    assert!(
        d.help.as_deref().unwrap().contains("write `hour()`"),
        "{d:?}"
    );
    // A `let` named `time_of_day` is a number like any other: no time strings with it.
    let err = compile(
        "let time_of_day = close;\ntime_of_day >= \"09:45\"",
        &Schema::ohlcv(),
        &Params::new(),
    )
    .unwrap_err();
    assert!(
        err.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("write `time_of_day()`"),
        "{err:?}"
    );
}

/// The first diagnostic of code that must not compile: message, line, column, help.
fn error(src: &str) -> (String, usize, usize, String) {
    let err = compile(src, &Schema::ohlcv(), &Params::new()).expect_err(src);
    assert!(check(src, &Schema::ohlcv()).is_err(), "check accepts {src}");
    let d = &err.diagnostics[0];
    let loc = d.location.as_ref().expect("a place in the source");
    (
        d.message.clone(),
        loc.line,
        loc.column,
        d.help.clone().unwrap_or_default(),
    )
}

#[test]
fn compile_errors_say_where_and_how_to_fix() {
    let (msg, line, col, help) = error("time_of_day >= \"9:75\"");
    assert_eq!(msg, "invalid time of day `\"9:75\"`");
    assert_eq!((line, col), (1, 16));
    assert!(
        help.contains("\"HH:MM\"") && help.contains("minutes"),
        "{help}"
    );

    let (msg, line, col, help) = error("close > open and\n    time_of_day < \"24:00\"");
    assert_eq!(msg, "invalid time of day `\"24:00\"`");
    assert_eq!((line, col), (2, 19));
    assert!(help.contains("hours run from 00 to 23"), "{help}");

    let (msg, _, _, help) = error("time_of_day >= \"9:45\"");
    assert_eq!(msg, "invalid time of day `\"9:45\"`");
    assert_eq!(help, "write the hour with two digits: \"09:45\"");

    let (msg, line, col, help) = error("close > \"09:45\"");
    assert_eq!(
        msg,
        "a time string can only be compared with `time_of_day`, not with `close`"
    );
    assert_eq!((line, col), (1, 9));
    assert!(help.contains("`time_of_day > \"09:45\"`"), "{help}");

    let (msg, ..) = error("hour >= \"10:00\"");
    assert_eq!(
        msg,
        "a time string can only be compared with `time_of_day`, not with `hour`"
    );
    let (msg, line, col, _) = error("let start = \"09:45\";\ntime_of_day >= start");
    assert_eq!(
        msg,
        "a string can only be a time of day compared with `time_of_day`"
    );
    assert_eq!((line, col), (1, 13));
    let (_, _, _, help) = error("sma(\"close\", 5) > 1");
    assert_eq!(help, "names are written without quotes: `close`");
    let (msg, _, col, _) = error("time_of_day + \"00:15\" > 600");
    assert_eq!(msg, "`+` needs numbers, but its right side is a string");
    assert_eq!(col, 15);
    let (msg, ..) = error("\"09:45\" == \"09:45\"");
    assert_eq!(msg, "two strings cannot be compared");
    let (msg, _, col, _) = error("close > 1 and time_of_day >= \"09:45");
    assert_eq!(msg, "unterminated string");
    assert_eq!(col, 30);
    let (msg, _, _, help) = error("vwap(close) > 1");
    assert_eq!(msg, "`vwap` takes no arguments, but 1 was given");
    assert!(help.contains("write `vwap`"), "{help}");
    // The clock columns cannot be named.
    let (msg, line, col, help) = error("close > 1 and @session > 0");
    assert_eq!(msg, "unexpected character `@`");
    assert_eq!((line, col), (1, 15));
    assert!(help.contains("`bars_since_open`"), "{help}");
    // A pack without the columns a session value reads.
    let schema = Schema::new(["open", "high", "low", "close"]);
    let err = compile("close > vwap", &schema, &Params::new()).unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "`vwap` needs the pack's `volume` column, which this pack does not have"
    );
    assert!(compile("close > day_high", &schema, &Params::new()).is_ok());
}
