//! [`Feed`]: where a simulated broker reads prices — one ticker's [`crate::Bars`], or a
//! [`crate::broker::Panel`] of many on one calendar.

/// Where a simulated broker reads prices: bars of one or many tickers on one calendar.
pub trait Feed {
    /// How many tickers.
    fn tickers(&self) -> usize;
    /// How many bars.
    fn len(&self) -> usize;
    /// Whether there are no bars.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Instant of bar `bar`, nanoseconds since 1970-01-01 00:00 UTC.
    fn time(&self, bar: usize) -> i64;
    /// `[open, high, low, close]` of `ticker` at `bar`, `None` when it has no bar then.
    fn bar(&self, ticker: usize, bar: usize) -> Option<[f64; 4]>;
}

impl Feed for crate::Bars<'_> {
    fn tickers(&self) -> usize {
        1
    }
    fn len(&self) -> usize {
        crate::Bars::len(self)
    }
    fn time(&self, bar: usize) -> i64 {
        self.time()[bar]
    }
    fn bar(&self, ticker: usize, bar: usize) -> Option<[f64; 4]> {
        (ticker == 0 && bar < crate::Bars::len(self)).then(|| {
            [
                self.open()[bar],
                self.high()[bar],
                self.low()[bar],
                self.close()[bar],
            ]
        })
    }
}

impl<T: Feed + ?Sized> Feed for &T {
    fn tickers(&self) -> usize {
        (**self).tickers()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn time(&self, bar: usize) -> i64 {
        (**self).time(bar)
    }
    fn bar(&self, ticker: usize, bar: usize) -> Option<[f64; 4]> {
        (**self).bar(ticker, bar)
    }
}
