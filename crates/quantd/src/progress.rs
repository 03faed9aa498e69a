//! Progress bars: the CLI's implementation of [`quantd_core::Progress`]. Bars draw on stderr only
//! when it is a terminal and `--json` is off; otherwise they are silent.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quantd_core::Progress;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

/// A progress bar that starts a new bar for each phase.
pub struct Bars {
    current: Mutex<Option<ProgressBar>>,
    visible: bool,
}

impl Bars {
    /// Bars shown when stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Arc<Bars> {
        Arc::new(Bars {
            current: Mutex::new(None),
            visible: !quiet && std::io::stderr().is_terminal(),
        })
    }
}

impl Progress for Bars {
    fn phase(&self, name: &str, total: u64) {
        let mut cur = self.current.lock().expect("progress lock");
        if let Some(bar) = cur.take() {
            bar.finish_and_clear();
        }
        if !self.visible {
            return;
        }
        let bar = if total == 0 {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(100));
            b
        } else {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>9} [{bar:40}] {percent:>3}% {human_pos}/{human_len} eta {eta}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(name.to_string());
        *cur = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.current.lock().expect("progress lock").as_ref() {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.current.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
