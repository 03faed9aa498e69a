//! The evaluation pipeline: before code is trusted, an `evaluate` execution
//! ([`crate::exec::kinds::evaluate`]) runs it through four stages ([`pipeline`]) and scores it.
//!
//! - **static**: the code compiles against the pack (expressions) or passes the sandbox's
//!   validation (Python: syntax, imports, one entry point, its parameters);
//! - **runs**: it runs on a sample of the pack's tickers without error, within the sandbox's time
//!   and memory limits;
//! - **sanity**: its signals are neither never nor always on, a strategy trades enough to mean
//!   something, its statistics are finite and its returns not absurd for the data, and it passes
//!   the look-ahead check ([`crate::lookahead`]);
//! - **robustness** (strategies): in-sample against out-of-sample (the first 70 % of the history
//!   against the rest), the result's sensitivity to one step of each parameter either way, and a
//!   comparison with buy-and-hold on the same tickers.
//!
//! Each finding is `pass`, `info`, `warn` or `fail`; the score starts at 100 and loses
//! [`FAIL_POINTS`] per failure and [`WARN_POINTS`] per warning (code that does not compile or
//! run scores 0). The status is `failed` with any failure, `warnings` with any warning, else
//! `passed`: the deployment status shown beside each code version.

pub mod pipeline;

use serde::{Deserialize, Serialize};

/// Points a failure costs.
pub const FAIL_POINTS: u32 = 35;
/// Points a warning costs.
pub const WARN_POINTS: u32 = 10;

/// How a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Checked and fine.
    Pass,
    /// Worth knowing; costs nothing.
    Info,
    /// A doubt: costs [`WARN_POINTS`].
    Warn,
    /// A reason not to trust the code: costs [`FAIL_POINTS`].
    Fail,
}

/// One thing a stage found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// How it weighs.
    pub level: Level,
    /// What, in a sentence with the figures.
    pub text: String,
}

/// One stage's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stage {
    /// `static`, `runs`, `sanity` or `robustness`.
    pub name: String,
    /// Its worst finding's level (`pass` when it found nothing wrong).
    pub level: Level,
    /// What it found.
    pub findings: Vec<Finding>,
    /// Seconds it took.
    pub seconds: f64,
}

/// The deployment status an evaluation gives its code version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing wrong found.
    Passed,
    /// Doubts, no failure.
    Warnings,
    /// At least one failure.
    Failed,
}

impl Status {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Warnings => "warnings",
            Status::Failed => "failed",
        }
    }
}

/// An evaluation (an `evaluate` execution's summary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    /// The status.
    pub status: Status,
    /// 0 to 100.
    pub score: u32,
    /// The findings that cost points, worst first.
    pub reasons: Vec<String>,
    /// `scanner` or `strategy`.
    pub code_kind: String,
    /// `expression` or `python`.
    pub language: String,
    /// The tickers it ran on.
    pub tickers: Vec<String>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

impl Evaluation {
    /// The evaluation of `stages`; `broken` when the code did not compile or run (score 0).
    pub fn of(
        code_kind: &str,
        language: &str,
        tickers: Vec<String>,
        stages: Vec<Stage>,
        broken: bool,
    ) -> Evaluation {
        let all = || stages.iter().flat_map(|s| s.findings.iter());
        let fails = all().filter(|f| f.level == Level::Fail).count() as u32;
        let warns = all().filter(|f| f.level == Level::Warn).count() as u32;
        let score = if broken {
            0
        } else {
            100u32.saturating_sub(fails * FAIL_POINTS + warns * WARN_POINTS)
        };
        let status = match (fails, warns) {
            (0, 0) => Status::Passed,
            (0, _) => Status::Warnings,
            _ => Status::Failed,
        };
        let mut costly: Vec<&Finding> = all().filter(|f| f.level >= Level::Warn).collect();
        costly.sort_by_key(|f| std::cmp::Reverse(f.level));
        let reasons = costly
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    if f.level == Level::Fail {
                        "fail"
                    } else {
                        "warn"
                    },
                    f.text
                )
            })
            .collect();
        Evaluation {
            status,
            score,
            reasons,
            code_kind: code_kind.into(),
            language: language.into(),
            tickers,
            stages,
        }
    }

    /// The evaluation as Markdown; `timings` adds each stage's seconds.
    pub fn markdown(&self, title: &str, timings: bool) -> String {
        let mut s = format!(
            "# Evaluation of {title}: {} ({}/100)\n\n{} {} on {} ticker{}.\n",
            self.status.as_str(),
            self.score,
            if self.language == "python" {
                "A Python"
            } else {
                "An expression"
            },
            self.code_kind,
            self.tickers.len(),
            if self.tickers.len() == 1 { "" } else { "s" },
        );
        if !self.reasons.is_empty() {
            s.push_str("\n**What cost points**\n\n");
            for r in &self.reasons {
                s.push_str(&format!("- {r}\n"));
            }
        }
        for st in &self.stages {
            let took = if timings {
                format!(" ({:.2} s)", st.seconds)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "\n## {} — {}{took}\n\n",
                st.name,
                level_name(st.level)
            ));
            for f in &st.findings {
                s.push_str(&format!("- **{}** {}\n", level_name(f.level), f.text));
            }
        }
        s
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Pass => "pass",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Fail => "fail",
    }
}

/// A stage's findings gathered as it runs.
#[derive(Debug)]
pub struct StageBuilder {
    name: &'static str,
    findings: Vec<Finding>,
    start: std::time::Instant,
}

impl StageBuilder {
    /// A stage starting now.
    pub fn new(name: &'static str) -> StageBuilder {
        StageBuilder {
            name,
            findings: Vec::new(),
            start: std::time::Instant::now(),
        }
    }

    /// Adds a finding.
    pub fn add(&mut self, level: Level, text: impl Into<String>) {
        self.findings.push(Finding {
            level,
            text: text.into(),
        });
    }

    /// Whether it failed so far.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Fail)
    }

    /// The stage.
    pub fn done(self) -> Stage {
        Stage {
            name: self.name.into(),
            level: self
                .findings
                .iter()
                .map(|f| f.level)
                .filter(|&l| l != Level::Info)
                .max()
                .unwrap_or(Level::Pass),
            findings: self.findings,
            seconds: self.start.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(levels: &[Level]) -> Stage {
        let mut b = StageBuilder::new("sanity");
        for (i, &l) in levels.iter().enumerate() {
            b.add(l, format!("finding {i}"));
        }
        b.done()
    }

    #[test]
    fn the_score_and_status_follow_the_findings() {
        let e = Evaluation::of(
            "strategy",
            "expression",
            vec![],
            vec![stage(&[Level::Pass, Level::Info])],
            false,
        );
        assert_eq!((e.status, e.score), (Status::Passed, 100));
        assert!(e.reasons.is_empty());
        let e = Evaluation::of(
            "strategy",
            "expression",
            vec![],
            vec![stage(&[Level::Warn, Level::Pass, Level::Warn])],
            false,
        );
        assert_eq!((e.status, e.score), (Status::Warnings, 80));
        let e = Evaluation::of(
            "strategy",
            "expression",
            vec![],
            vec![stage(&[Level::Warn, Level::Fail])],
            false,
        );
        assert_eq!((e.status, e.score), (Status::Failed, 55));
        assert_eq!(e.reasons[0], "fail: finding 1", "failures first");
        assert_eq!(e.stages[0].level, Level::Fail);
        let e = Evaluation::of(
            "strategy",
            "python",
            vec![],
            vec![stage(&[Level::Fail])],
            true,
        );
        assert_eq!(e.score, 0, "code that does not run scores 0");
    }
}
