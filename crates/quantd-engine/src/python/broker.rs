//! The host end of a class strategy's broker channel: while a Python backtest job runs, a
//! thread of the worker serves the job's channel (`quantd_sandbox::Job::channel`) with one
//! [`Session`] on a [`SimBroker`] per ticker the strategy runs on. The strategy
//! (`python/quantd/strategies.py`) decides; the broker here fills, so the fill rules are the
//! backtester's own and nothing the job says about prices, cash or fills is believed.
//!
//! Protocol (each frame a 4-byte little-endian length, then JSON; one reply per request):
//! `begin {ticker, bars}` (or `begin_portfolio {tickers, bars}`) → `{cash, spread}` (or `{skip}` with the reason when the ticker's
//! bars cannot be backtested); `start {start}` → `{}`; `step {bar, actions}` →
//! a [`StepReply`]; `end {actions}` → `{}`. Anything else, a frame over [`MAX_FRAME`], more
//! than [`MAX_ACTIONS`] actions in one step, a ticker not in the shard or run twice, a bar
//! count that is not the ticker's, or a step out of order gets `{error}` and ends the serving:
//! the shard fails with that message.

use quantd_backtest::Bars;
use quantd_backtest::broker::{
    Action, Feed, Panel, Session, SessionEnd, SimBroker, SimOptions, StepReply,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Largest frame either side may send.
pub const MAX_FRAME: usize = 16 << 20;
/// Most actions a strategy may take on one bar.
pub const MAX_ACTIONS: usize = 10_000;

/// One ticker a strategy may run on: its name and its bars (the backtest's window).
pub(crate) struct ClassTicker<'a> {
    pub name: String,
    /// Its bars, or why it cannot be backtested (the strategy is told to skip it).
    pub bars: Result<Bars<'a>, quantd_backtest::BacktestError>,
}

/// What happens around each step of a session besides the broker's work: a paper session waits
/// for each bar to be due and records (or, replaying, checks) what each step did
/// ([`super::paper`]); a backtest does nothing ([`Unwatched`]). An `Err` ends the serving with
/// that message.
pub(crate) trait Watch: Send {
    /// Whether the strategy must step on every bar (so that each bar is paced and recorded),
    /// not only on the bars where the broker may have something to do.
    fn every_bar(&self) -> bool {
        false
    }
    /// Before the broker runs bar `bar`, whose time is `time`.
    fn before(&mut self, _bar: usize, _time: i64) -> Result<(), String> {
        Ok(())
    }
    /// After the broker ran bar `bar` (the session's tickers are `tickers`; the next bar's
    /// time is `next`, `None` after the last bar): what the strategy is told.
    fn after(
        &mut self,
        _bar: usize,
        _reply: &StepReply,
        _tickers: &[String],
        _next: Option<i64>,
    ) -> Result<(), String> {
        Ok(())
    }
    /// After the strategy's last bar, for a watch that steps every bar: the strategy's actions
    /// on it applied (the orders they placed wait in `reply`), before the session ends.
    fn decided(&mut self, _reply: &StepReply, _tickers: &[String]) -> Result<(), String> {
        Ok(())
    }
    /// After the session ended.
    fn ended(&mut self, _end: &SessionEnd, _tickers: &[String]) -> Result<(), String> {
        Ok(())
    }
}

/// A backtest's watch: nothing around the steps.
pub(crate) struct Unwatched;

impl Watch for Unwatched {}

/// What a served channel produced: each ticker's finished session, `None` for a ticker the
/// strategy did not run on; `used` is false when the job never spoke on the channel (a
/// signal strategy).
pub(crate) struct Served {
    pub ends: Vec<Option<SessionEnd>>,
    /// A portfolio run's session.
    pub book: Option<SessionEnd>,
    pub used: bool,
}

/// What the broker serves: one session per ticker, or one portfolio session.
#[derive(Clone, Copy)]
pub(crate) enum Runs<'a, 'b> {
    /// One session per ticker.
    Tickers(&'b [ClassTicker<'a>]),
    /// One session over the panel, the tickers in its order.
    Portfolio(&'b Panel, &'b [String]),
}

#[derive(Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Begin { ticker: String, bars: usize },
    BeginPortfolio { tickers: Vec<String>, bars: usize },
    Start { start: usize },
    Step { bar: usize, actions: Vec<Action> },
    End { actions: Vec<Action> },
}

/// Where the serving is for the current ticker.
enum State<'a, 'b> {
    Idle,
    Begun(usize),
    Running(usize, Box<Session<Bars<'a>>>),
    BookBegun,
    Book(Box<Session<&'b Panel>>),
}

/// Serves `stream` until the job closes it (or the caller shuts it down). `Err` carries what
/// the strategy did wrong, already sent to it.
pub(crate) fn serve<'a, 'b>(
    mut stream: UnixStream,
    bars: Runs<'a, 'b>,
    options: SimOptions,
    finalize: bool,
    watch: &mut dyn Watch,
) -> Result<Served, String> {
    let count = match bars {
        Runs::Tickers(t) => t.len(),
        Runs::Portfolio(..) => 0,
    };
    let mut served = Served {
        ends: (0..count).map(|_| None).collect(),
        book: None,
        used: false,
    };
    let mut state = State::Idle;
    let result = loop {
        let frame = match read_frame(&mut stream) {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(message) => break Err(message),
        };
        served.used = true;
        match handle(
            &frame,
            bars,
            (options, finalize),
            watch,
            &mut state,
            &mut served,
        ) {
            Ok(reply) => {
                if write_frame(&mut stream, &reply).is_err() {
                    break Ok(());
                }
            }
            Err(message) => break Err(message),
        }
    };
    if let Err(message) = &result {
        // The job may be gone already; the error is ours to report either way.
        let _ = write_frame(&mut stream, &json!({ "error": message }));
    }
    // Whatever the job still waits for will not come: it sees the end of the channel now
    // rather than at its time limit.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    result.map(|()| served)
}

fn handle<'a, 'b>(
    frame: &[u8],
    source: Runs<'a, 'b>,
    (options, finalize): (SimOptions, bool),
    watch: &mut dyn Watch,
    state: &mut State<'a, 'b>,
    served: &mut Served,
) -> Result<Value, String> {
    let request: Request = serde_json::from_slice(frame)
        .map_err(|e| format!("the strategy sent a message the broker does not understand: {e}"))?;
    let hello = json!({
        "cash": options.cash,
        "spread": options.spread,
        "every_bar": watch.every_bar(),
    });
    let (tickers, panel): (&[ClassTicker<'a>], Option<(&'b Panel, &'b [String])>) = match source {
        Runs::Tickers(t) => (t, None),
        Runs::Portfolio(p, names) => (&[], Some((p, names))),
    };
    match (request, std::mem::replace(state, State::Idle)) {
        (
            Request::BeginPortfolio {
                tickers: names,
                bars,
            },
            State::Idle,
        ) => {
            let Some((panel, ours)) = panel else {
                return Err(
                    "this backtest runs per ticker, not as a portfolio (config.portfolio)".into(),
                );
            };
            if served.book.is_some() {
                return Err("the portfolio ran twice".into());
            }
            if names != ours || bars != quantd_backtest::broker::Feed::len(panel) {
                return Err(format!(
                    "the portfolio has {} tickers on {} bars, not {} on {bars}",
                    ours.len(),
                    quantd_backtest::broker::Feed::len(panel),
                    names.len()
                ));
            }
            *state = State::BookBegun;
            Ok(hello)
        }
        (Request::Start { start }, State::BookBegun) => {
            let Some((panel, names)) = panel else {
                return Err("this backtest runs per ticker, not as a portfolio".into());
            };
            let broker = SimBroker::new(options, names.len()).map_err(|e| e.to_string())?;
            *state = State::Book(Box::new(Session::new(broker, panel, start)));
            Ok(json!({}))
        }
        (Request::Step { bar, actions }, State::Book(mut session)) => {
            let names = panel.map_or(&[][..], |(_, names)| names);
            let reply = step(&mut session, bar, actions, (watch, names))?;
            *state = State::Book(session);
            Ok(reply)
        }
        (Request::End { actions }, State::Book(session)) => {
            let names = panel.map_or(&[][..], |(_, names)| names);
            served.book = Some(end(*session, actions, finalize, (watch, names))?);
            Ok(json!({}))
        }
        (Request::Begin { ticker, bars }, State::Idle) => {
            let slot = tickers
                .iter()
                .position(|t| t.name == ticker)
                .ok_or_else(|| format!("ticker {ticker:?} is not one of this shard's"))?;
            if served.ends[slot].is_some() {
                return Err(format!("ticker {ticker:?} ran twice"));
            }
            let have = match &tickers[slot].bars {
                Ok(b) => b.len(),
                Err(e) => return Ok(json!({ "skip": e.to_string() })),
            };
            if bars != have {
                return Err(format!("ticker {ticker:?} has {have} bars, not {bars}"));
            }
            *state = State::Begun(slot);
            Ok(hello)
        }
        (Request::Start { start }, State::Begun(slot)) => {
            let broker = SimBroker::new(options, 1).map_err(|e| e.to_string())?;
            let bars = *tickers[slot].bars.as_ref().map_err(|e| e.to_string())?;
            let session = Session::new(broker, bars, start);
            *state = State::Running(slot, Box::new(session));
            Ok(json!({}))
        }
        (Request::Step { bar, actions }, State::Running(slot, mut session)) => {
            let names = std::slice::from_ref(&tickers[slot].name);
            let reply = step(&mut session, bar, actions, (watch, names))?;
            *state = State::Running(slot, session);
            Ok(reply)
        }
        (Request::End { actions }, State::Running(slot, session)) => {
            let names = std::slice::from_ref(&tickers[slot].name);
            served.ends[slot] = Some(end(*session, actions, finalize, (watch, names))?);
            Ok(json!({}))
        }
        (_, _) => Err(
            "the strategy's messages are out of order (begin, start, step…, end per ticker)".into(),
        ),
    }
}

/// One step of `session`, watched; the reply the strategy gets.
fn step<F: Feed>(
    session: &mut Session<F>,
    bar: usize,
    actions: Vec<Action>,
    (watch, tickers): (&mut dyn Watch, &[String]),
) -> Result<Value, String> {
    check_actions(&actions)?;
    let feed = session.feed();
    if bar < feed.len() {
        watch.before(bar, feed.time(bar))?;
    }
    let reply = session.step(bar, actions).map_err(|e| e.to_string())?;
    let feed = session.feed();
    let next = (bar + 1 < feed.len()).then(|| feed.time(bar + 1));
    watch.after(bar, &reply, tickers, next)?;
    serde_json::to_value(reply).map_err(|e| e.to_string())
}

/// Ends `session` with the last bar's `actions`, watched.
fn end<F: Feed>(
    mut session: Session<F>,
    mut actions: Vec<Action>,
    finalize: bool,
    (watch, tickers): (&mut dyn Watch, &[String]),
) -> Result<SessionEnd, String> {
    check_actions(&actions)?;
    if watch.every_bar() {
        let decided = session.take(std::mem::take(&mut actions));
        watch.decided(&decided, tickers)?;
    }
    let end = session.finish(actions, finalize);
    watch.ended(&end, tickers)?;
    Ok(end)
}

fn check_actions(actions: &[Action]) -> Result<(), String> {
    if actions.len() > MAX_ACTIONS {
        return Err(format!(
            "{} actions on one bar; at most {MAX_ACTIONS} are taken",
            actions.len()
        ));
    }
    Ok(())
}

/// One frame, `None` at the end of the stream.
fn read_frame(stream: &mut UnixStream) -> Result<Option<Vec<u8>>, String> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(_) => return Ok(None), // shut down by the caller, or the job is gone
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(format!(
            "the strategy sent a message of {len} bytes; at most {MAX_FRAME} are read"
        ));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .map(|()| Some(body))
        .or(Ok(None))
}

fn write_frame(stream: &mut UnixStream, value: &Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).expect("JSON values serialize");
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame)
}
