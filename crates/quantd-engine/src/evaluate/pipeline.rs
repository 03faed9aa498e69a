//! The stages of an evaluation, run inside one shard with the jobs the other kinds use: the
//! backtest jobs (expression or Python) for runs and robustness, the look-ahead check jobs for
//! the look-ahead part of sanity. A failure of the user's code is a finding, never a shard
//! failure; only a cancel stops the shard.

use super::{Evaluation, Level, Stage, StageBuilder};
use crate::exec::jobs::{Job, ShardControl, ShardFailure};
use crate::exec::kinds::backtest::{ResolvedBacktest, backtest_job};
use crate::exec::kinds::check::{CheckedCode, check_job};
use crate::exec::limits::Limits;
use crate::exec::strategy::TickerBacktest;
use crate::lookahead::cuts::Settings;
use crate::lookahead::{CheckReport, CheckVerdict, TickerCheck};
use crate::python::Sandboxed;
use quantd_data::PackReader;
use quantd_data::when::When;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Cut points per ticker of the look-ahead part of sanity.
const CHECK_CUTS: u32 = 50;
/// Tickers the look-ahead part checks at most.
const CHECK_TICKERS: usize = 10;
/// Trades (over the sample) below which a strategy's statistics mean little.
const MIN_TRADES: usize = 30;
/// A yearly return beyond this (%) is absurd for market data.
const ABSURD_ANNUAL_PCT: f64 = 10_000.0;
/// Share of the history that is in-sample.
const IN_SAMPLE: f64 = 0.7;
/// Parameters whose sensitivity is measured at most.
const MAX_SENSITIVITY_PARAMS: usize = 6;

/// What an evaluation runs: the code, its parameters, the tickers of its sample.
pub struct Subject {
    /// The code.
    pub checked: CheckedCode,
    /// Parameter values given.
    pub params: BTreeMap<String, f64>,
    /// Pack positions of the sample's tickers.
    pub tickers: Vec<usize>,
}

/// Runs an evaluation of `subject` over `reader`.
pub struct Pipeline<'a> {
    /// The pack.
    pub reader: Arc<PackReader>,
    /// The engine's limits.
    pub limits: &'a Limits,
    /// The Python runner with the execution's sandbox limits.
    pub py: Sandboxed,
    /// The shard's control (its stop flag is checked by every job).
    pub ctl: &'a ShardControl,
}

/// A failure of the code under evaluation, as a finding's text; a cancel stops the evaluation.
fn code_failure(f: ShardFailure) -> Result<String, ShardFailure> {
    match f {
        stop @ (ShardFailure::Cancelled | ShardFailure::Later(_)) => Err(stop),
        ShardFailure::Error(_, m) | ShardFailure::Crash(m) => Ok(last_lines(&m)),
    }
}

/// The end of a message (a traceback's last lines say what went wrong), without the caret
/// lines under code and without control characters, at most 400 characters.
fn last_lines(m: &str) -> String {
    let lines: Vec<&str> = m
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '^' | '~' | ' ')))
        .collect();
    let tail = lines[lines.len().saturating_sub(2)..].join(" / ");
    let clean: String = tail.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

impl Pipeline<'_> {
    /// Evaluates `s`.
    pub fn run(&self, s: &Subject) -> Result<Evaluation, ShardFailure> {
        let names: Vec<String> = s
            .tickers
            .iter()
            .map(|&t| self.reader.manifest().tickers[t].ticker.clone())
            .collect();
        let language = s.checked.language();
        let (stage, kind, params) = self.static_stage(s);
        let broken = stage.failed();
        let mut stages = vec![stage.done()];
        let Some((kind, params)) = kind.zip(params).filter(|_| !broken) else {
            let kind = kind.unwrap_or("scanner");
            return Ok(Evaluation::of(kind, language, names, stages, true));
        };
        let runs_ok = if kind == "strategy" {
            self.strategy_stages(s, &names, &params, &mut stages)?
        } else {
            self.scanner_stages(s, &mut stages)?
        };
        Ok(Evaluation::of(kind, language, names, stages, !runs_ok))
    }

    /// Static checks: the kind of code (`scanner` or `strategy`) and its parameter values
    /// (defaults with the given ones), when it compiles or validates.
    #[allow(clippy::type_complexity)]
    fn static_stage(
        &self,
        s: &Subject,
    ) -> (
        StageBuilder,
        Option<&'static str>,
        Option<BTreeMap<String, f64>>,
    ) {
        let mut st = StageBuilder::new("static");
        let kind = match s.checked {
            CheckedCode::Strategy(_) => "strategy",
            _ => "scanner",
        };
        if let Some(result) = s
            .checked
            .compile(&self.reader, &s.params, &self.limits.expr)
        {
            return match result {
                Ok(p) => {
                    st.add(
                        Level::Pass,
                        format!(
                            "compiles against the pack: {} input column{}, parameters {}, warm-up {} bars",
                            p.columns().len(),
                            if p.columns().len() == 1 { "" } else { "s" },
                            listed(p.params()),
                            p.warmup()
                        ),
                    );
                    (st, Some(kind), Some(s.params.clone()))
                }
                Err(e) => {
                    st.add(Level::Fail, format!("does not compile: {e}"));
                    (st, Some(kind), None)
                }
            };
        }
        let CheckedCode::Python(src) = &s.checked else {
            unreachable!("the other languages compiled above")
        };
        let report = match self.py.python().check_code(src) {
            Ok(r) => r,
            Err(e) => {
                st.add(Level::Fail, format!("could not be validated: {e}"));
                return (st, None, None);
            }
        };
        for p in &report.errors {
            st.add(
                Level::Fail,
                format!(
                    "line {}, column {}: {}",
                    p.line.unwrap_or(0),
                    p.column.unwrap_or(0),
                    p.message
                ),
            );
        }
        let Some(ep) = report.entry_points.first().filter(|_| report.ok) else {
            return (st, None, None);
        };
        let kind = if ep.kind == "strategy" {
            "strategy"
        } else {
            "scanner"
        };
        let mut params: BTreeMap<String, f64> = ep
            .params
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
            .collect();
        for (k, v) in &s.params {
            if !ep.params.contains_key(k) {
                st.add(
                    Level::Fail,
                    format!(
                        "parameter `{k}` is not one of {}'s ({})",
                        ep.name,
                        listed(&ep.params.keys().cloned().collect::<Vec<_>>())
                    ),
                );
            }
            params.insert(k.clone(), *v);
        }
        if !st.failed() {
            st.add(
                Level::Pass,
                format!(
                    "valid Python: imports allowed, one entry point `{}` ({kind}, line {}), parameters {}",
                    ep.name,
                    ep.line,
                    listed(&params.keys().cloned().collect::<Vec<_>>())
                ),
            );
        }
        (st, Some(kind), Some(params))
    }

    /// Backtests of the sample with `params`, between `from` and `to`: the results, or what
    /// went wrong.
    fn backtest(
        &self,
        s: &Subject,
        names: &[String],
        params: &BTreeMap<String, f64>,
        from: Option<When>,
        to: Option<When>,
    ) -> Result<Result<Vec<TickerBacktest>, String>, ShardFailure> {
        let (strategy, python) = match &s.checked {
            CheckedCode::Strategy(x) => (x.clone(), None),
            CheckedCode::Python(src) => (Default::default(), Some(src.clone())),
            CheckedCode::Expr(_) => return Ok(Err("a scanner is not backtested".into())),
        };
        let spec = ResolvedBacktest {
            strategy,
            python,
            code: None,
            pack_id: String::new(),
            params: params.clone(),
            tickers: Some(names.to_vec()),
            from,
            to,
            config: quantd_backtest::Config::default(),
        };
        match backtest_job(&spec, self.reader.clone(), &self.limits.expr, || {
            self.py.clone()
        }) {
            Ok(job) => self.run_all(job.as_ref()),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// Every shard of `job`, its results (each shard's JSON list) concatenated; a failure of the
    /// code as its message.
    fn run_all<T: DeserializeOwned>(
        &self,
        job: &dyn Job,
    ) -> Result<Result<Vec<T>, String>, ShardFailure> {
        let mut out = Vec::new();
        for payload in job.plan() {
            match job.run(&payload, self.ctl) {
                Ok(o) => out.extend(serde_json::from_slice::<Vec<T>>(&o.body).map_err(|e| {
                    ShardFailure::Error(quantd_core::ErrorClass::Internal, e.to_string())
                })?),
                Err(f) => return Ok(Err(code_failure(f)?)),
            }
        }
        Ok(Ok(out))
    }

    /// The look-ahead check of the sample's first tickers.
    fn lookahead(&self, s: &Subject) -> Result<Result<CheckReport, String>, ShardFailure> {
        let tickers: Vec<usize> = s.tickers.iter().copied().take(CHECK_TICKERS).collect();
        let settings = Settings {
            cuts: CHECK_CUTS,
            min_bars: crate::lookahead::MIN_BARS,
            seed: 0,
        };
        let job = match check_job(
            &s.checked,
            &s.params,
            self.reader.clone(),
            tickers,
            settings,
            self.limits,
            self.py.clone(),
        ) {
            Ok(job) => job,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let checks: Vec<TickerCheck> = match self.run_all(job.as_ref())? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(CheckReport::assemble(s.checked.language(), &checks)))
    }

    /// The look-ahead finding of sanity.
    fn lookahead_finding(st: &mut StageBuilder, report: &Result<CheckReport, String>) {
        match report {
            Err(e) => st.add(
                Level::Fail,
                format!("the look-ahead check could not run: {e}"),
            ),
            Ok(r) => {
                let first = r.reasons.first().cloned().unwrap_or_default();
                match r.verdict {
                    CheckVerdict::Clean => st.add(Level::Pass, format!("no look-ahead: {first}")),
                    CheckVerdict::Biased => st.add(Level::Fail, format!("look-ahead: {first}")),
                    CheckVerdict::Inconclusive => st.add(
                        Level::Warn,
                        format!("look-ahead check inconclusive: {first}"),
                    ),
                }
            }
        }
    }

    /// Runs, sanity and robustness of a scanner; false when it did not run.
    fn scanner_stages(&self, s: &Subject, stages: &mut Vec<Stage>) -> Result<bool, ShardFailure> {
        let mut runs = StageBuilder::new("runs");
        let report = self.lookahead(s)?;
        let ran = match &report {
            Err(e) => {
                runs.add(Level::Fail, format!("did not run on the sample: {e}"));
                false
            }
            Ok(r) if r.tickers_checked == 0 || r.errors * 2 > r.runs.max(1) => {
                runs.add(
                    Level::Fail,
                    format!(
                        "raised on {} of {} runs over {} tickers",
                        r.errors, r.runs, r.tickers
                    ),
                );
                false
            }
            Ok(r) => {
                runs.add(
                    Level::Pass,
                    format!(
                        "ran {} times over {} tickers ({} bars) within the sandbox's limits",
                        r.runs, r.tickers_checked, r.bars
                    ),
                );
                true
            }
        };
        stages.push(runs.done());
        if !ran {
            return Ok(false);
        }
        let mut sanity = StageBuilder::new("sanity");
        if let Ok(r) = &report {
            let rate = r.signal_bars as f64 / r.bars.max(1) as f64;
            if r.signal_bars == 0 {
                sanity.add(
                    Level::Fail,
                    format!(
                        "never fires on {} bars of {} tickers",
                        r.bars, r.tickers_checked
                    ),
                );
            } else if rate > 0.95 {
                sanity.add(
                    Level::Fail,
                    format!(
                        "fires on {:.1} % of bars: a condition that is (almost) always true",
                        rate * 100.0
                    ),
                );
            } else {
                sanity.add(
                    Level::Pass,
                    format!(
                        "fires on {} of {} bars ({:.2} %)",
                        r.signal_bars,
                        r.bars,
                        rate * 100.0
                    ),
                );
            }
        }
        Self::lookahead_finding(&mut sanity, &report);
        stages.push(sanity.done());
        let mut robust = StageBuilder::new("robustness");
        robust.add(
            Level::Info,
            "not measured for scanners (in- and out-of-sample returns and parameter sensitivity are a strategy's); backtest a strategy built on it",
        );
        stages.push(robust.done());
        Ok(true)
    }

    /// Runs, sanity and robustness of a strategy; false when it did not run.
    fn strategy_stages(
        &self,
        s: &Subject,
        names: &[String],
        params: &BTreeMap<String, f64>,
        stages: &mut Vec<Stage>,
    ) -> Result<bool, ShardFailure> {
        let mut runs = StageBuilder::new("runs");
        let results = match self.backtest(s, names, params, None, None)? {
            Err(e) => {
                runs.add(Level::Fail, format!("did not run on the sample: {e}"));
                stages.push(runs.done());
                return Ok(false);
            }
            Ok(r) => r,
        };
        let failed: Vec<&TickerBacktest> = results.iter().filter(|r| r.error.is_some()).collect();
        if failed.len() == results.len() {
            runs.add(
                Level::Fail,
                format!(
                    "every backtest failed; first: {}",
                    failed
                        .first()
                        .and_then(|r| r.error.clone())
                        .unwrap_or_default()
                ),
            );
            stages.push(runs.done());
            return Ok(false);
        }
        if !failed.is_empty() {
            runs.add(
                Level::Warn,
                format!(
                    "{} of {} backtests failed; first ({}): {}",
                    failed.len(),
                    results.len(),
                    failed[0].ticker,
                    failed[0].error.clone().unwrap_or_default()
                ),
            );
        }
        let m = Means::of(&results);
        runs.add(
            Level::Pass,
            format!(
                "backtested on {} tickers within the limits: {} trades",
                m.tickers, m.trades
            ),
        );
        stages.push(runs.done());

        let mut sanity = StageBuilder::new("sanity");
        match m.trades {
            0 => sanity.add(
                Level::Fail,
                "never trades: its entries never fire (or are closed at once)",
            ),
            n if n < MIN_TRADES => sanity.add(
                Level::Warn,
                format!(
                    "only {n} trades over {} tickers: too few for its statistics to mean much",
                    m.tickers
                ),
            ),
            n => sanity.add(
                Level::Pass,
                format!("{n} trades over {} tickers", m.tickers),
            ),
        }
        if m.trades > 0 && m.always_in {
            sanity.add(Level::Warn, format!("in the market {:.0} % of the time with {:.1} trades a ticker: its entries look always true", m.exposure, m.trades as f64 / m.tickers.max(1) as f64));
        }
        if m.non_finite > 0 {
            sanity.add(
                Level::Fail,
                format!("{} tickers have NaN or infinite statistics", m.non_finite),
            );
        }
        if m.max_annual > ABSURD_ANNUAL_PCT {
            sanity.add(Level::Fail, format!("a yearly return of {:.0} % on {}: absurd for market data (over {ABSURD_ANNUAL_PCT:.0} %)", m.max_annual, m.max_annual_ticker));
        } else if m.trades > 0 {
            sanity.add(
                Level::Pass,
                format!(
                    "returns plausible: mean {:+.2} % a year, best {:+.2} %",
                    m.annual, m.max_annual
                ),
            );
        }
        Self::lookahead_finding(&mut sanity, &self.lookahead(s)?);
        stages.push(sanity.done());

        let mut robust = StageBuilder::new("robustness");
        self.in_and_out_of_sample(s, names, params, &m, &mut robust)?;
        self.sensitivity(s, names, params, &m, &mut robust)?;
        if m.trades > 0 {
            let level = if m.ret < m.buy_hold {
                Level::Warn
            } else {
                Level::Pass
            };
            robust.add(level, format!("mean return {:+.2} % against buy-and-hold {:+.2} % on the same tickers; better on {} of {}", m.ret, m.buy_hold, m.beats_buy_hold, m.tickers));
        }
        stages.push(robust.done());
        Ok(true)
    }

    fn in_and_out_of_sample(
        &self,
        s: &Subject,
        names: &[String],
        params: &BTreeMap<String, f64>,
        all: &Means,
        st: &mut StageBuilder,
    ) -> Result<(), ShardFailure> {
        let Some(&t) = s.tickers.first() else {
            return Ok(());
        };
        let bars = self.reader.read(t, &self.reader.projection(&[])?)?;
        let stamps = bars.stamps();
        if stamps.len() < 100 || all.trades == 0 {
            st.add(
                Level::Info,
                "in- and out-of-sample not compared: too short a history or no trades",
            );
            return Ok(());
        }
        let split = stamps[(stamps.len() as f64 * IN_SAMPLE) as usize];
        let inside = self.backtest(s, names, params, None, Some(When::At(split)))?;
        let outside = self.backtest(s, names, params, Some(When::At(split + 1)), None)?;
        let (Ok(i), Ok(o)) = (inside, outside) else {
            st.add(Level::Warn, "in- and out-of-sample backtests failed");
            return Ok(());
        };
        let (i, o) = (Means::of(&i), Means::of(&o));
        let date = self.reader.manifest().calendar.format(split);
        let text = format!(
            "in-sample (to {date}): {:+.2} % a year, Sharpe {:.2}; out-of-sample: {:+.2} % a year, Sharpe {:.2}",
            i.annual, i.sharpe, o.annual, o.sharpe
        );
        if i.annual > 0.0 && o.annual <= 0.0 {
            st.add(Level::Warn, format!("profitable in-sample only: {text}"));
        } else if i.sharpe > 0.5 && o.sharpe < 0.5 * i.sharpe {
            st.add(
                Level::Warn,
                format!("out-of-sample Sharpe less than half the in-sample one: {text}"),
            );
        } else {
            st.add(Level::Pass, text);
        }
        Ok(())
    }

    fn sensitivity(
        &self,
        s: &Subject,
        names: &[String],
        params: &BTreeMap<String, f64>,
        base: &Means,
        st: &mut StageBuilder,
    ) -> Result<(), ShardFailure> {
        if params.is_empty() || base.trades == 0 {
            st.add(
                Level::Info,
                "parameter sensitivity not measured: no parameters or no trades",
            );
            return Ok(());
        }
        for (name, &v) in params.iter().take(MAX_SENSITIVITY_PARAMS) {
            let step = if v.fract() == 0.0 {
                1.0
            } else {
                (v.abs() * 0.1).max(1e-6)
            };
            let mut seen = Vec::new();
            for x in [v - step, v + step] {
                let mut p = params.clone();
                p.insert(name.clone(), x);
                if let Ok(r) = self.backtest(s, names, &p, None, None)? {
                    seen.push((x, Means::of(&r).annual));
                }
            }
            let shown: Vec<String> = seen
                .iter()
                .map(|(x, a)| format!("{a:+.2} % at {x}"))
                .collect();
            let text = format!(
                "`{name}` = {v}: {:+.2} % a year; {}",
                base.annual,
                shown.join(", ")
            );
            let unstable = seen.iter().any(|&(_, a)| {
                (a > 0.0) != (base.annual > 0.0)
                    || (a - base.annual).abs() > (0.5 * base.annual.abs()).max(1.0)
            });
            st.add(
                if unstable { Level::Warn } else { Level::Pass },
                if unstable {
                    format!("sensitive to one step of {text}")
                } else {
                    format!("stable around {text}")
                },
            );
        }
        Ok(())
    }
}

/// Means over a sample's backtests (tickers with statistics).
struct Means {
    tickers: usize,
    trades: usize,
    annual: f64,
    sharpe: f64,
    ret: f64,
    buy_hold: f64,
    beats_buy_hold: usize,
    exposure: f64,
    always_in: bool,
    non_finite: usize,
    max_annual: f64,
    max_annual_ticker: String,
}

impl Means {
    fn of(results: &[TickerBacktest]) -> Means {
        let stats: Vec<(&str, &quantd_backtest::Stats, usize)> = results
            .iter()
            .filter_map(|r| {
                r.stats
                    .as_ref()
                    .map(|s| (r.ticker.as_str(), s, r.trades.len()))
            })
            .collect();
        let n = stats.len().max(1) as f64;
        let mean = |f: fn(&quantd_backtest::Stats) -> f64| {
            let v: Vec<f64> = stats
                .iter()
                .map(|(_, s, _)| f(s))
                .filter(|x| x.is_finite())
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let trades: usize = stats.iter().map(|(_, _, t)| t).sum();
        let (max_annual, max_annual_ticker) = stats
            .iter()
            .map(|(t, s, _)| (s.return_ann_pct, t.to_string()))
            .filter(|(x, _)| x.is_finite())
            .fold((f64::NEG_INFINITY, String::new()), |a, b| {
                if b.0 > a.0 { b } else { a }
            });
        let exposure = mean(|s| s.exposure_time_pct);
        Means {
            tickers: stats.len(),
            trades,
            annual: mean(|s| s.return_ann_pct),
            sharpe: mean(|s| s.sharpe_ratio),
            ret: mean(|s| s.return_pct),
            buy_hold: mean(|s| s.buy_hold_return_pct),
            beats_buy_hold: stats
                .iter()
                .filter(|(_, s, _)| s.return_pct > s.buy_hold_return_pct)
                .count(),
            exposure,
            always_in: exposure > 99.0 && (trades as f64 / n) <= 1.0,
            non_finite: stats
                .iter()
                .filter(|(_, s, t)| {
                    *t > 0 && !(s.return_pct.is_finite() && s.equity_final.is_finite())
                })
                .count(),
            max_annual,
            max_annual_ticker,
        }
    }
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
