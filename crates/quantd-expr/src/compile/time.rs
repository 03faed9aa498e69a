//! Lowering the functions of time: a clock column as it is (`time_of_day`, `day_of_week`), the
//! wall clock's hour or minute from it, or a session kernel over the session column and the pack
//! columns it reads.

use super::{Builder, Val};
use crate::clock::ClockCol;
use crate::functions::Func;
use crate::plan::{Cmp, Day, Num, Op, Ta, WallClock};

impl Builder<'_> {
    /// The input of pack column `name`, which the checker has made sure is read.
    fn pack_column(&self, name: &str) -> Num {
        let input = self.schema.index_of(name).and_then(|i| self.col_map[i]);
        Num::In(input.expect("the columns a function of time reads are mapped"))
    }

    /// The input of a clock column, which the checker has made sure is read.
    fn clock(&self, c: ClockCol) -> Num {
        Num::In(self.clock_map[c as usize].expect("the clock columns used are mapped"))
    }

    /// A function of time: a clock column, arithmetic on one, or a session kernel.
    pub(super) fn time(&mut self, func: Func) -> Val {
        let session = |b: &Self| b.clock(ClockCol::Session);
        let day = |b: &mut Self, d: Day, column: &str| {
            let x = b.pack_column(column);
            Val::Num(b.num_node(Op::Ta(Ta::Day(d, session(b), x))))
        };
        match func {
            Func::TimeOfDay => Val::Num(self.clock(ClockCol::MinuteOfDay)),
            Func::DayOfWeek => Val::Num(self.clock(ClockCol::Weekday)),
            Func::Hour | Func::Minute => {
                let part = if func == Func::Hour {
                    WallClock::Hour
                } else {
                    WallClock::Minute
                };
                let m = self.clock(ClockCol::MinuteOfDay);
                Val::Num(self.num_node(Op::WallClock(part, m)))
            }
            Func::BarsSinceOpen => {
                Val::Num(self.num_node(Op::Ta(Ta::BarsSinceOpen(session(self)))))
            }
            Func::FirstBarOfDay => {
                // The one node `bars_since_open` would be, shared with it if the code uses both.
                let n = self.num_node(Op::Ta(Ta::BarsSinceOpen(session(self))));
                Val::Bool(self.cmp(Cmp::Eq, n, Num::constant(0.0)))
            }
            Func::Vwap => {
                let hlcv = ["high", "low", "close", "volume"].map(|c| self.pack_column(c));
                Val::Num(self.num_node(Op::Ta(Ta::Vwap(session(self), hlcv))))
            }
            Func::DayOpen => day(self, Day::Open, "open"),
            Func::DayHigh => day(self, Day::High, "high"),
            Func::DayLow => day(self, Day::Low, "low"),
            Func::PrevDayClose => day(self, Day::PrevClose, "close"),
            _ => unreachable!("not a function of time"),
        }
    }
}
