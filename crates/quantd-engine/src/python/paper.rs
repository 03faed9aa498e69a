//! Paper sessions: a class strategy traded on a pack replayed bar by bar, as if the bars were
//! arriving. The strategy and the broker are a backtest's ([`super::jobs`]); a [`PaperWatch`]
//! around each step paces the bars (`speed`), and appends what each bar did to the execution's
//! event log as it happens: [`Event::Order`] for every order event (accepted, rejected, filled,
//! cancelled, expired) and [`Event::SessionDay`] when a trading day ends. Those events are the
//! session's durable record, streamed live (SSE, WebSocket) like every event.
//!
//! Durability: the session is deterministic given its bars, so a session that stopped (a
//! restart, a `kill -9`, a pause, or the end of a segment) starts again from its first bar with
//! the record read back: while the record lasts the bars are not paced and nothing is
//! appended; each event the strategy and broker make again is checked against the recorded one
//! (a strategy that does something else — randomness, the clock — fails the session with the
//! bar where it diverged). Past the record, the session is live again. Orders, fills and
//! positions are thus exactly those before the stop, each fill recorded once.
//!
//! A shard's sandbox job has a wall-clock limit; a session that runs longer (days at `1x`) ends
//! each job at 90 % of it ([`SEGMENT_SHARE`]) between two bars and goes back to the queue
//! without counting an attempt, to go on in the next job the same way.

use super::Sandboxed;
use super::broker::Watch;
use super::jobs::{PyBacktestJob, portfolio_shard};
use super::live::Mirror;
use crate::exec::clock::Clock;
use crate::exec::jobs::{Job, ShardControl, ShardFailure, ShardOutput};
use crate::exec::kinds::backtest::ResolvedBacktest;
use crate::exec::kinds::paper::read_record;
use quantd_alpaca::AlpacaConfig;
use quantd_backtest::broker::{OrderEvent, SessionEnd, StepReply};
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId};
use quantd_data::PackReader;
use quantd_data::time::Calendar;
use quantd_store::Store;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// The share of a job's wall-clock limit a session runs before it hands over to the next job.
pub const SEGMENT_SHARE: f64 = 0.9;
/// Longest sleep between two looks at the stop flag while a bar is not due.
const POLL: Duration = Duration::from_millis(50);

/// How fast a pack is replayed: `factor` times faster than its bars' times are apart, or as fast
/// as the strategy goes (`None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed(pub Option<f64>);

impl Speed {
    /// The fastest factor accepted (a minute bar every 0.6 µs).
    pub const MAX_FACTOR: f64 = 1e8;

    /// Parses `60x`, `60`, `0.5x` or `max`.
    pub fn parse(text: &str) -> Result<Speed, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Speed(None));
        }
        let number = t.strip_suffix(['x', 'X']).unwrap_or(t);
        match number.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= Self::MAX_FACTOR => Ok(Speed(Some(f))),
            _ => Err(format!(
                "`speed`: {text:?} is not a speed; write a factor such as `60x` (more than 0, at most {:e}) or `max`",
                Self::MAX_FACTOR
            )),
        }
    }

    /// How long after bar time `from` bar time `to` arrives (times in nanoseconds).
    fn wait(self, from: i64, to: i64) -> Duration {
        match self.0 {
            Some(f) => Duration::from_secs_f64(((to - from) as f64 / 1e9 / f).max(0.0)),
            None => Duration::ZERO,
        }
    }
}

/// Appends a session's events to its execution's log and announces them.
#[derive(Clone)]
pub(crate) struct Recorder<S> {
    pub store: S,
    pub execution: ExecutionId,
    pub events: broadcast::Sender<EventRecord>,
    pub clock: Arc<dyn Clock>,
    pub runtime: tokio::runtime::Handle,
}

impl<S: Store> Recorder<S> {
    /// The session's record so far, in order: its orders and days, and a live session's
    /// broker events.
    fn recorded(&self) -> Result<Vec<Event>, ShardFailure> {
        let record =
            self.runtime
                .block_on(read_record(&self.store, &self.execution, 0, usize::MAX))?;
        Ok(record.events.into_iter().map(|r| r.event).collect())
    }

    fn append(&self, event: Event) -> Result<(), String> {
        let rec = self
            .runtime
            .block_on(
                self.store
                    .record_event(&self.execution, self.clock.now_ms(), event),
            )
            .map_err(|e| format!("recording the session's events failed: {e}"))?;
        let _ = self.events.send(rec);
        Ok(())
    }
}

/// Where a session's bars come from after the pack it started on: nowhere (it completes at
/// the pack's last bar), or the newer versions of that pack's name as they are imported.
pub(crate) struct Follow<S> {
    /// The name followed.
    pub name: String,
    /// The packs, to find the name's fresh version and open it.
    pub packs: crate::packs::Packs<S>,
}

/// Longest wait between two looks for a newer pack while a following session waits for bars.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The job of a paper session: one shard, the backtest job's strategy run watched.
pub struct PaperJob<S> {
    spec: ResolvedBacktest,
    py: Sandboxed,
    reader: Arc<PackReader>,
    recorder: Recorder<S>,
    speed: Speed,
    follow: Option<Follow<S>>,
    idle: Duration,
    /// A live session: the broker account its book is mirrored to.
    live: Option<AlpacaConfig>,
}

impl<S: Store + Clone + 'static> PaperJob<S> {
    /// The session of `spec` (one ticker, or a portfolio, of a class strategy) over `reader`
    /// (the pack it starts on), replayed at `speed`, recording with `recorder`; with `follow`,
    /// it goes on over the newer versions of the pack's name instead of completing. Waits
    /// longer than `idle` are spent without a worker.
    pub(crate) fn new(
        spec: ResolvedBacktest,
        py: Sandboxed,
        reader: Arc<PackReader>,
        (recorder, speed, follow): (Recorder<S>, Speed, Option<Follow<S>>),
        idle: Duration,
    ) -> Self {
        PaperJob {
            spec,
            py,
            reader,
            recorder,
            speed,
            follow,
            idle,
            live: None,
        }
    }

    /// This session mirrors its book to the account of `config` ([`super::live`]).
    pub(crate) fn live(mut self, config: AlpacaConfig) -> Self {
        self.live = Some(config);
        self
    }

    /// The pack this run trades: the followed name's fresh version, else the one it started on.
    fn current_reader(&self) -> Result<Arc<PackReader>, ShardFailure> {
        let Some(f) = &self.follow else {
            return Ok(self.reader.clone());
        };
        let rt = &self.recorder.runtime;
        let rec = rt.block_on(f.packs.find(Some(&f.name)))?;
        if rec.id == self.reader.manifest().id {
            return Ok(self.reader.clone());
        }
        Ok(rt.block_on(f.packs.reader(&rec))?)
    }

    /// Whether the followed name has a fresh version other than `current`.
    fn newer_than(&self, current: &quantd_core::PackId) -> Result<bool, String> {
        let Some(f) = &self.follow else {
            return Ok(false);
        };
        match self.recorder.runtime.block_on(f.packs.find(Some(&f.name))) {
            Ok(rec) => Ok(rec.state == quantd_core::PackState::Fresh && &rec.id != current),
            Err(e) => Err(format!("looking for new bars of pack `{}`: {e}", f.name)),
        }
    }
}

impl<S: Store + Clone + 'static> Job for PaperJob<S> {
    fn plan(&self) -> Vec<Value> {
        // The tickers are chosen by name on each run: a followed pack's newer versions may
        // number them differently.
        vec![serde_json::json!({})]
    }

    fn run(&self, _payload: &Value, ctl: &ShardControl) -> Result<ShardOutput, ShardFailure> {
        let record = self.recorder.recorded()?;
        let reader = self.current_reader()?;
        let job = PyBacktestJob::new(&self.spec, reader.clone(), self.py.clone())?;
        let live = self.live.as_ref().map(|config| Live {
            config,
            start: record
                .iter()
                .find(|e| matches!(e, Event::LiveStart { .. }))
                .cloned(),
            margin: self.spec.config.margin,
        });
        // The simulated record is what a replay makes again; a live session's broker events
        // are not (the broker is not deterministic).
        let recorded = record
            .into_iter()
            .filter(|e| matches!(e, Event::Order { .. } | Event::SessionDay { .. }))
            .collect();
        let payload = serde_json::json!({ "tickers": job.tickers() });
        let wall = self.py.limits().wall;
        let pack = reader.manifest().id.clone();
        let newer = || self.newer_than(&pack);
        let mut watch = PaperWatch {
            recorder: &self.recorder,
            recorded,
            cursor: 0,
            speed: self.speed,
            calendar: reader.manifest().calendar,
            ctl,
            deadline: Instant::now() + wall.mul_f64(SEGMENT_SHARE),
            anchor: None,
            now: (0, 0),
            day: Day {
                fills: 0,
                equity: self.spec.config.cash,
            },
            fills: 0,
            suspended: false,
            resume_at: None,
            idle: self.idle,
            follow: self
                .follow
                .as_ref()
                .map(|f| (f.name.as_str(), &newer as &NewerVersion<'_>)),
            live,
            mirror: None,
            failure: None,
        };
        let out = if self.spec.config.portfolio {
            portfolio_shard(&job, &payload, ctl, &mut watch).map(|o| (o, true))
        } else {
            job.shard(&payload, ctl, &mut watch)
        };
        if let Some(failure) = watch.failure.take() {
            return Err(failure);
        }
        if watch.suspended {
            // Back to the queue, not an attempt: the next job goes on from the record, when
            // the next bar is due if this job gave its worker back while waiting for it.
            let now = self.recorder.clock.now_ms();
            return Err(ShardFailure::Later(watch.resume_at.map_or(now, |wait| {
                now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)
            })));
        }
        let (out, class) = out?;
        if !class {
            return Err(ShardFailure::Error(
                ErrorClass::Validation,
                "paper trading needs a class strategy (class X(qd.Strategy)): it places orders bar by bar; a @qd.strategy of signals backtests only".into(),
            ));
        }
        if watch.cursor < watch.recorded.len() {
            return Err(ShardFailure::Error(
                ErrorClass::Execution,
                format!(
                    "the session ended before its record: {} recorded events were not made again (is the strategy deterministic?)",
                    watch.recorded.len() - watch.cursor
                ),
            ));
        }
        Ok(out)
    }
}

/// Whether a followed pack name has a newer version than the one traded (or why it cannot
/// tell).
type NewerVersion<'a> = dyn Fn() -> Result<bool, String> + Sync + 'a;

/// What a live session's job knows of its broker account before its first bar.
struct Live<'a> {
    config: &'a AlpacaConfig,
    /// The session's [`Event::LiveStart`], once recorded.
    start: Option<Event>,
    /// The simulation's margin (an order for a fraction of equity is sized with it).
    margin: f64,
}

/// The day under way: fills so far and the equity at the previous day's end.
struct Day {
    fills: u32,
    equity: f64,
}

/// Paces, records and checks one paper session's steps (see the module docs).
struct PaperWatch<'a, S> {
    recorder: &'a Recorder<S>,
    /// The session's record when the job started.
    recorded: Vec<Event>,
    /// How much of it this run has made again.
    cursor: usize,
    speed: Speed,
    calendar: Calendar,
    ctl: &'a ShardControl,
    /// When this job hands over to the next.
    deadline: Instant,
    /// The first live bar's arrival: when, and its bar time.
    anchor: Option<(Instant, i64)>,
    /// The bar under way and its time.
    now: (usize, i64),
    day: Day,
    /// Fills so far, replayed or live (for the `paper-fill-N` failure points of the tests).
    fills: u64,
    suspended: bool,
    /// How long after the hand-over the next job should start (the wait for the next bar),
    /// when the job gave its worker back to wait.
    resume_at: Option<Duration>,
    /// The longest wait spent holding the worker.
    idle: Duration,
    /// A following session: the name followed, and whether a newer version of it is there.
    follow: Option<(&'a str, &'a NewerVersion<'a>)>,
    /// A live session: its account, and what its record says of its start.
    live: Option<Live<'a>>,
    /// A live session's mirror to the broker account, from its first bar on.
    mirror: Option<Mirror>,
    /// Why the session stopped, when it is not the strategy's fault (the broker account could
    /// not be reached: the shard is retried).
    failure: Option<ShardFailure>,
}

impl<S: Store> PaperWatch<'_, S> {
    fn replaying(&self) -> bool {
        self.cursor < self.recorded.len()
    }

    /// Checks `event` against the record while it lasts, else appends it.
    fn record(&mut self, event: Event) -> Result<(), String> {
        if let Some(want) = self.recorded.get(self.cursor) {
            self.cursor += 1;
            // The record went through the store as text: the event made now goes the same way
            // (a float read back from text may differ from the one written in its last bit).
            let got = as_stored(&event)?;
            if *want != got {
                let show = |e: &Event| serde_json::to_string(e).expect("events serialize");
                let (want, got) = (show(want), show(&got));
                return Err(format!(
                    "the session did not do again what it recorded before it stopped: at bar {} it recorded {want} but now made {got}; paper strategies must be deterministic (no randomness, no clock)",
                    self.now.0
                ));
            }
            return Ok(());
        }
        let fill = matches!(&event, Event::Order { status, .. } if status == "filled");
        self.recorder.append(event)?;
        if fill && quantd_data::failpoint::armed() {
            quantd_data::failpoint::hit(&format!("paper-fill-{}", self.fills));
        }
        Ok(())
    }

    fn orders(&mut self, events: &[OrderEvent], tickers: &[String]) -> Result<(), String> {
        let (bar, time) = self.now;
        for e in events {
            let event = order_event(bar, self.calendar.format(time), e, tickers);
            if matches!(e, OrderEvent::Filled { .. }) {
                self.fills += 1;
                self.day.fills += 1;
            }
            self.record(event)?;
        }
        Ok(())
    }

    /// Waits until bar time `time` is due, or fails when the session must stop first. A wait
    /// longer than `idle` is not spent holding a worker: the job hands over, and the next starts
    /// when the bar is due.
    fn pace(&mut self, time: i64) -> Result<(), String> {
        let (at, first) = *self.anchor.get_or_insert((Instant::now(), time));
        let due = at + self.speed.wait(first, time);
        let wait = due.saturating_duration_since(Instant::now());
        if wait > self.idle {
            self.suspended = true;
            self.resume_at = Some(wait);
            return Err("the session waits for its next bar without a worker".into());
        }
        loop {
            if self.ctl.stopped() {
                return Err("the session was stopped".into());
            }
            let now = Instant::now();
            if now >= self.deadline {
                self.suspended = true;
                return Err("this job's share of the session ended; the next goes on".into());
            }
            if now >= due {
                return Ok(());
            }
            std::thread::sleep((due - now).min(POLL).min(self.deadline - now));
        }
    }
}

impl<S: Store> Watch for PaperWatch<'_, S> {
    fn every_bar(&self) -> bool {
        true
    }

    fn before(&mut self, bar: usize, time: i64) -> Result<(), String> {
        self.now = (bar, time);
        if self.replaying() {
            return Ok(());
        }
        self.pace(time)
    }

    fn after(
        &mut self,
        bar: usize,
        reply: &StepReply,
        tickers: &[String],
        next: Option<i64>,
    ) -> Result<(), String> {
        self.ctl.add_bars(1);
        self.orders(&reply.events, tickers)?;
        self.end_of_day(bar, reply, tickers, next)
    }

    fn decided(&mut self, reply: &StepReply, tickers: &[String]) -> Result<(), String> {
        if self.follow.is_none() {
            // The last bar's orders, recorded as the session's end would record them.
            return self.orders(&reply.events, tickers);
        }
        // A following session records them on the next version's first bar, where a replay
        // makes them again; the account gets them now.
        self.mirror(reply, tickers)?;
        if !reply.stopped {
            self.wait_for_bars()?;
        }
        Ok(())
    }

    fn ended(&mut self, end: &SessionEnd, tickers: &[String]) -> Result<(), String> {
        self.orders(&end.events, tickers)
    }
}

impl<S: Store> PaperWatch<'_, S> {
    /// A live session, once the strategy decided on the pack's last bar: brings the broker
    /// account to its book, and records what it did and heard.
    fn mirror(&mut self, reply: &StepReply, tickers: &[String]) -> Result<(), String> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        if self.replaying() {
            // The record says more happened: the session fails on it at its end.
            return Ok(());
        }
        let (bar, time) = (self.now.0 as u64, self.calendar.format(self.now.1));
        let mirror = match self.mirror.as_mut() {
            Some(mirror) => Ok(mirror),
            None => Mirror::connect(live.config, tickers, live.start.as_ref(), live.margin)
                .map(|m| self.mirror.insert(m)),
        };
        let events = mirror.and_then(|m| m.decided(bar, &time, reply));
        match events {
            Ok(events) => events.into_iter().try_for_each(|e| self.recorder.append(e)),
            Err(failure) => {
                let message = match &failure {
                    ShardFailure::Error(_, m) | ShardFailure::Crash(m) => m.clone(),
                    _ => "the broker account could not be reached".into(),
                };
                self.failure = Some(failure);
                Err(message)
            }
        }
    }

    /// A live session waiting for bars: records what the broker said meanwhile.
    fn hear(&mut self) -> Result<(), String> {
        let Some(mirror) = self.mirror.as_mut() else {
            return Ok(());
        };
        let time = self.calendar.format(self.now.1);
        for e in mirror.heard(self.now.0 as u64, &time) {
            self.recorder.append(e)?;
        }
        Ok(())
    }

    /// Records the day's end when `bar` is its last bar (`next` is the next bar's time). The
    /// last intraday bar of a following session's pack may not end its day: the next version
    /// says (its replay records the day then).
    fn end_of_day(
        &mut self,
        bar: usize,
        reply: &StepReply,
        tickers: &[String],
        next: Option<i64>,
    ) -> Result<(), String> {
        let time = self.now.1;
        let day = self.calendar.day_of(time);
        let ends = match next {
            Some(n) => self.calendar.day_of(n) != day,
            None => self.follow.is_none() || self.calendar.daily,
        };
        if ends {
            let equity = reply.account.equity;
            let event = Event::SessionDay {
                date: quantd_data::bars::date_from_day(day).to_string(),
                bar: bar as u64,
                equity,
                cash: uninvested(reply),
                pnl: equity - self.day.equity,
                open_trades: reply.trades.len() as u32,
                fills: self.day.fills,
                positions: positions(reply, tickers),
            };
            self.day = Day { fills: 0, equity };
            self.record(event)?;
        }
        Ok(())
    }

    /// After the last bar of a following session: waits until the name has a newer version,
    /// then hands over to the next job, which trades it (or until a stop or this job's share
    /// ends). A session that does not follow goes on to its end.
    fn wait_for_bars(&mut self) -> Result<(), String> {
        let Some((name, newer)) = self.follow else {
            return Ok(());
        };
        let phase = Event::Phase {
            phase: format!("waiting for new bars of pack `{name}`"),
            done: 0,
            total: 0,
        };
        self.recorder.append(phase)?;
        let give_back = Instant::now() + self.idle;
        loop {
            if self.ctl.stopped() {
                return Err("the session was stopped".into());
            }
            let now = Instant::now();
            if now >= self.deadline || newer()? {
                self.suspended = true;
                return Err("the session goes on over the pack's newer version".into());
            }
            self.hear()?;
            if now >= give_back {
                // No new version yet: look again later, without holding a worker meanwhile.
                self.suspended = true;
                self.resume_at = Some(self.idle);
                return Err("the session waits for new bars without a worker".into());
            }
            std::thread::sleep(FOLLOW_POLL.min(self.deadline - now).min(give_back - now));
        }
    }
}

/// The cash not invested after a step: the broker's cash (backtesting.py's, which keeps the
/// open trades' cost) less what the open trades cost — the equity less the positions' value.
fn uninvested(reply: &StepReply) -> f64 {
    reply.account.cash
        - reply
            .trades
            .iter()
            .map(|t| t.size * t.entry_price)
            .sum::<f64>()
}

/// Units held by ticker after a step: the open trades' sizes added up, tickers held only.
fn positions(reply: &StepReply, tickers: &[String]) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for t in &reply.trades {
        let name = tickers.get(t.ticker).cloned().unwrap_or_default();
        *out.entry(name).or_insert(0.0) += t.size;
    }
    out.retain(|_, units| *units != 0.0);
    out
}

/// `event` as it reads back from the store: written as JSON text, then read (an event with a
/// number JSON cannot hold, NaN or infinite, does not read back).
fn as_stored(event: &Event) -> Result<Event, String> {
    let text = serde_json::to_string(event).expect("events serialize");
    serde_json::from_str(&text)
        .map_err(|e| format!("the session made an event {text} that cannot be stored: {e}"))
}

/// An order event of bar `bar` (at `time`) as the session's event.
fn order_event(bar: usize, time: String, e: &OrderEvent, tickers: &[String]) -> Event {
    let order = |status: &str, id: u64, client_id: Option<u64>| Event::Order {
        bar: bar as u64,
        time: time.clone(),
        status: status.into(),
        order: id,
        client_id,
        ticker: None,
        size: None,
        price: None,
        trade: None,
        partial: false,
        reason: None,
    };
    match e {
        OrderEvent::Accepted {
            order: id,
            client_id,
        } => order("accepted", *id, *client_id),
        OrderEvent::Expired {
            order: id,
            client_id,
        } => order("expired", *id, *client_id),
        OrderEvent::Rejected {
            order: id,
            client_id,
            reason,
        }
        | OrderEvent::Cancelled {
            order: id,
            client_id,
            reason,
        } => {
            let status = if matches!(e, OrderEvent::Rejected { .. }) {
                "rejected"
            } else {
                "cancelled"
            };
            let mut ev = order(status, *id, *client_id);
            if let Event::Order { reason: r, .. } = &mut ev {
                *r = Some(reason.clone());
            }
            ev
        }
        OrderEvent::Filled {
            order: id,
            client_id,
            ticker,
            trade,
            size,
            price,
            bar: _,
            partial,
        } => Event::Order {
            bar: bar as u64,
            time,
            status: "filled".into(),
            order: *id,
            client_id: *client_id,
            ticker: tickers.get(*ticker).cloned(),
            size: Some(*size),
            price: Some(*price),
            trade: Some(*trade),
            partial: *partial,
            reason: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse_and_say_what_is_wrong() {
        assert_eq!(Speed::parse("60x"), Ok(Speed(Some(60.0))));
        assert_eq!(Speed::parse("0.5"), Ok(Speed(Some(0.5))));
        assert_eq!(Speed::parse("MAX"), Ok(Speed(None)));
        for bad in ["0x", "-1x", "fast", "1e9x", "NaNx", ""] {
            let err = Speed::parse(bad).unwrap_err();
            assert!(
                err.contains("`speed`") && err.contains("`60x`"),
                "{bad}: {err}"
            );
        }
        // A day's bar at 86,400x arrives a second after the previous one.
        let day = 86_400 * 1_000_000_000;
        assert_eq!(Speed(Some(86_400.0)).wait(0, day), Duration::from_secs(1));
        assert_eq!(Speed(None).wait(0, day), Duration::ZERO);
    }

    #[test]
    fn fills_carry_their_ticker_and_refusals_their_reason() {
        let names = vec!["AAA".to_string(), "BBB".to_string()];
        let fill = OrderEvent::Filled {
            order: 7,
            client_id: Some(3),
            ticker: 1,
            trade: 2,
            size: -5.0,
            price: 101.5,
            bar: 9,
            partial: false,
        };
        let got = serde_json::to_value(order_event(9, "2024-01-02".into(), &fill, &names)).unwrap();
        assert_eq!(
            got,
            serde_json::json!({"type": "order", "bar": 9, "time": "2024-01-02", "status": "filled",
                "order": 7, "client_id": 3, "ticker": "BBB", "size": -5.0, "price": 101.5, "trade": 2})
        );
        let refused = OrderEvent::Rejected {
            order: 0,
            client_id: None,
            reason: "not enough cash".into(),
        };
        let got =
            serde_json::to_value(order_event(1, "2024-01-02".into(), &refused, &names)).unwrap();
        assert_eq!(got["status"], "rejected");
        assert_eq!(got["reason"], "not enough cash");
        assert!(got.get("ticker").is_none());
    }
}
