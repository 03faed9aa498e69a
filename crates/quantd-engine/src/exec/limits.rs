//! Limits on what one request may cost, checked at the door: when the engine receives a request
//! (the CLI, the API and MCP all submit through it), before anything is stored or allocated for
//! it. A request over a limit gets [`EngineError::Limit`](crate::EngineError::Limit), naming the
//! limit, its value and how to change it; nothing is created.
//!
//! Checks here are O(size of the request), never O(bars): the few that need the pack (the grid
//! counted over the pack's tickers) run when the job is planned, still before the execution is
//! stored. docs/limits.md lists every limit with its default.

use crate::error::{EngineError, Result};
use crate::exec::request::SubmitRequest;
use crate::exec::retry::RetryPolicy;

/// The limits of one engine (one process). Defaults suit a shared server on a 2-core machine;
/// every field can be changed with the environment variable named in its documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Parameter sets of one sweep grid, before the constraint (`QUANTD_MAX_PARAM_SETS`,
    /// default 100,000).
    pub max_param_sets: u64,
    /// Work items of one execution: parameter sets × tickers (a scan or test counts one set)
    /// (`QUANTD_MAX_GRID`, default 10,000,000: about 4 minutes of 2,520-bar backtests here).
    pub max_grid: u64,
    /// Tickers listed in one request (`QUANTD_MAX_TICKERS`, default 20,000).
    pub max_tickers: usize,
    /// Examples of one A+ test (`QUANTD_MAX_EXAMPLES`, default 100,000).
    pub max_examples: usize,
    /// Parameter values (`$name` and grid ranges) of one request (`QUANTD_MAX_PARAMS`,
    /// default 256).
    pub max_params: usize,
    /// Longest wall-clock limit a `run` may ask for, in seconds (`QUANTD_MAX_RUN_TIMEOUT`,
    /// default 86,400 = one day).
    pub max_run_timeout_secs: u64,
    /// Arguments of one `run` (`QUANTD_MAX_RUN_ARGS`, default 256), and their total size in
    /// bytes (64 KiB).
    pub max_run_args: usize,
    /// Total bytes of a `run`'s arguments (`QUANTD_MAX_RUN_ARG_BYTES`, default 65,536).
    pub max_run_arg_bytes: usize,
    /// Bytes of Python source (a scanner, strategy or script) in one request
    /// (`QUANTD_MAX_PYTHON_BYTES`, default 1 MiB).
    pub max_python_bytes: usize,
    /// Attempts a request's retry policy may ask for (`QUANTD_MAX_ATTEMPTS`, default 10).
    pub max_attempts: u32,
    /// Bytes of results one execution may store in all (`QUANTD_MAX_RESULT_BYTES`, default
    /// 512 MiB); a shard whose results would go over fails with class `resource`.
    pub max_result_bytes: u64,
    /// Memory one shard's results may take, in bytes (`QUANTD_MAX_SHARD_MEMORY`, default
    /// 256 MiB): scans are cut into shards small enough that even a hit on every bar fits.
    pub max_shard_memory: u64,
    /// Memory the evaluation of expression code may keep, in bytes, over all cores: one
    /// workspace per core, each as large as the longest ticker needs (`QUANTD_MAX_EVAL_MEMORY`,
    /// default 2 GiB).
    pub max_eval_memory: u64,
    /// Estimated work of evaluating a scanner or an A+ test over its bars, in work units
    /// (about a nanosecond of one core each; see docs/expressions.md, "Cost")
    /// (`QUANTD_MAX_WORK`, default 10^11: about a minute of both cores here; the reference
    /// full-market scan is 4.4 × 10^7).
    pub max_work: f64,
    /// Most memory a request may ask for each of its Python jobs (`options.sandbox.memory_mib`),
    /// in MiB (`QUANTD_MAX_SANDBOX_MEMORY_MIB`, default 8,192); also caps the default (4,096).
    pub max_sandbox_memory_mib: u64,
    /// Most CPU seconds a request may ask for each Python job (`options.sandbox.cpu_secs`)
    /// (`QUANTD_MAX_SANDBOX_CPU_SECS`, default 3,600).
    pub max_sandbox_cpu_secs: u64,
    /// Longest wall-clock limit, in seconds, a request may ask for each scanner, test or
    /// strategy job (`options.sandbox.wall_secs`) (`QUANTD_MAX_SANDBOX_WALL_SECS`, default
    /// 3,600); also caps the default (600). A run's is its `timeout`.
    pub max_sandbox_wall_secs: u64,
    /// Most processes and threads a request may ask for each Python job (`options.sandbox.pids`)
    /// (`QUANTD_MAX_SANDBOX_PIDS`, default 256).
    pub max_sandbox_pids: u64,
    /// Most standard output kept of each Python job a request may ask for, in MiB
    /// (`options.sandbox.output_mib`) (`QUANTD_MAX_SANDBOX_OUTPUT_MIB`, default 64).
    pub max_sandbox_output_mib: u64,
    /// Limits on expression code (size, `let`s, nodes, names, kernel calls, slots): see
    /// docs/limits.md, "Expressions".
    pub expr: quantd_expr::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_param_sets: 100_000,
            max_grid: 10_000_000,
            max_tickers: 20_000,
            max_examples: 100_000,
            max_params: 256,
            max_run_timeout_secs: 86_400,
            max_run_args: 256,
            max_run_arg_bytes: 64 << 10,
            max_python_bytes: 1 << 20,
            max_attempts: 10,
            max_result_bytes: 512 << 20,
            max_shard_memory: 256 << 20,
            max_eval_memory: 2 << 30,
            max_work: 1e11,
            max_sandbox_memory_mib: 8 << 10,
            max_sandbox_cpu_secs: 3_600,
            max_sandbox_wall_secs: 3_600,
            max_sandbox_pids: 256,
            max_sandbox_output_mib: 64,
            expr: quantd_expr::Limits::default(),
        }
    }
}

/// Each limit's name (its field) and environment variable.
const VARS: &[(&str, &str)] = &[
    ("max_param_sets", "QUANTD_MAX_PARAM_SETS"),
    ("max_grid", "QUANTD_MAX_GRID"),
    ("max_tickers", "QUANTD_MAX_TICKERS"),
    ("max_examples", "QUANTD_MAX_EXAMPLES"),
    ("max_params", "QUANTD_MAX_PARAMS"),
    ("max_run_timeout_secs", "QUANTD_MAX_RUN_TIMEOUT"),
    ("max_run_args", "QUANTD_MAX_RUN_ARGS"),
    ("max_run_arg_bytes", "QUANTD_MAX_RUN_ARG_BYTES"),
    ("max_python_bytes", "QUANTD_MAX_PYTHON_BYTES"),
    ("max_attempts", "QUANTD_MAX_ATTEMPTS"),
    ("max_result_bytes", "QUANTD_MAX_RESULT_BYTES"),
    ("max_shard_memory", "QUANTD_MAX_SHARD_MEMORY"),
    ("max_eval_memory", "QUANTD_MAX_EVAL_MEMORY"),
    ("max_work", "QUANTD_MAX_WORK"),
    ("max_sandbox_memory_mib", "QUANTD_MAX_SANDBOX_MEMORY_MIB"),
    ("max_sandbox_cpu_secs", "QUANTD_MAX_SANDBOX_CPU_SECS"),
    ("max_sandbox_wall_secs", "QUANTD_MAX_SANDBOX_WALL_SECS"),
    ("max_sandbox_pids", "QUANTD_MAX_SANDBOX_PIDS"),
    ("max_sandbox_output_mib", "QUANTD_MAX_SANDBOX_OUTPUT_MIB"),
];

/// The environment variable that sets the limit `name`.
pub(crate) fn var_of(name: &str) -> &'static str {
    VARS.iter()
        .find(|(n, _)| *n == name)
        .map_or("QUANTD_MAX_*", |(_, v)| v)
}

impl Limits {
    /// The defaults, with every `QUANTD_MAX_*` variable set in `env` applied; a value that is not
    /// a whole number is an error naming it.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Limits> {
        let mut l = Limits::default();
        for &(name, var) in VARS {
            let Some(v) = env(var) else { continue };
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|_| EngineError::Invalid(format!("{var}=`{v}` is not a whole number")))?;
            let small = || usize::try_from(n).unwrap_or(usize::MAX);
            match name {
                "max_param_sets" => l.max_param_sets = n,
                "max_grid" => l.max_grid = n,
                "max_tickers" => l.max_tickers = small(),
                "max_examples" => l.max_examples = small(),
                "max_params" => l.max_params = small(),
                "max_run_timeout_secs" => l.max_run_timeout_secs = n,
                "max_run_args" => l.max_run_args = small(),
                "max_run_arg_bytes" => l.max_run_arg_bytes = small(),
                "max_python_bytes" => l.max_python_bytes = small(),
                "max_result_bytes" => l.max_result_bytes = n,
                "max_shard_memory" => l.max_shard_memory = n,
                "max_eval_memory" => l.max_eval_memory = n,
                "max_work" => l.max_work = n as f64,
                "max_sandbox_memory_mib" => l.max_sandbox_memory_mib = n,
                "max_sandbox_cpu_secs" => l.max_sandbox_cpu_secs = n,
                "max_sandbox_wall_secs" => l.max_sandbox_wall_secs = n,
                "max_sandbox_pids" => l.max_sandbox_pids = n,
                "max_sandbox_output_mib" => l.max_sandbox_output_mib = n,
                _ => l.max_attempts = u32::try_from(n).unwrap_or(u32::MAX),
            }
        }
        Ok(l)
    }

    /// Checks what a request asks for, before anything is resolved or stored: every field it
    /// sets (its kind's module has already refused the fields that are not its kind's).
    pub fn check_request(&self, r: &SubmitRequest, retry: &RetryPolicy) -> Result<()> {
        self.check_retry(retry)?;
        r.options.sandbox.check(self, r.kind)?;
        Self::check_priority(r.priority)?;
        self.check_tickers(r.tickers.as_deref())?;
        self.check_params(&r.params)?;
        self.check_count(r.params.len() + r.grid.len())?;
        check_window(r.from, r.to)?;
        over(
            "max_examples",
            r.examples.len() as u64,
            self.max_examples as u64,
            "examples in the test",
            "test fewer examples at a time",
        )?;
        if let Some(src) = &r.python {
            self.check_python(src)?;
        }
        if let Some(script) = &r.script {
            self.check_python(script)?;
            self.check_run(
                r.timeout
                    .unwrap_or(crate::exec::kinds::run::DEFAULT_TIMEOUT_SECS),
                &r.args,
            )?;
        }
        Ok(())
    }

    /// Checks a sweep's grid size and its work (parameter sets × tickers) once the pack's
    /// tickers are known.
    pub fn check_grid(&self, param_sets: u64, tickers: u64) -> Result<()> {
        over(
            "max_param_sets",
            param_sets,
            self.max_param_sets,
            "parameter sets in the sweep grid",
            "narrow the ranges or use larger steps",
        )?;
        self.check_work(
            param_sets.saturating_mul(tickers),
            "parameter sets × tickers",
        )
    }

    /// Checks the work items of an execution (a scan's tickers, a sweep's sets × tickers).
    pub fn check_work(&self, items: u64, what: &str) -> Result<()> {
        over(
            "max_grid",
            items,
            self.max_grid,
            what,
            "split the request (fewer tickers or parameter sets per execution)",
        )
    }

    /// Checks an expression program's price before it runs over `tickers` of `reader`: its
    /// estimated work over their bars, and the workspace one evaluating thread keeps for the
    /// longest of them (every core evaluates one ticker at a time).
    pub fn check_cost(
        &self,
        cost: &quantd_expr::Cost,
        reader: &quantd_data::PackReader,
        tickers: &[usize],
    ) -> Result<()> {
        let entries = &reader.manifest().tickers;
        let bars: u64 = tickers.iter().map(|&t| entries[t].rows).sum();
        let longest = tickers.iter().map(|&t| entries[t].rows).max().unwrap_or(0);
        let work = cost.work(bars);
        if work > self.max_work {
            return Err(EngineError::Limit {
                limit: "max_work",
                message: format!(
                    "the code costs about {:.0} work units per bar, {work:.2e} over {bars} bars: over \
                     the limit of {:.2e} (max_work, set by QUANTD_MAX_WORK); use shorter periods, fewer \
                     indicators, or fewer tickers or dates",
                    cost.work_per_bar, self.max_work
                ),
            });
        }
        let threads = rayon::current_num_threads() as u64;
        let memory = cost.bytes(longest).saturating_mul(threads);
        over(
            "max_eval_memory",
            memory,
            self.max_eval_memory,
            "bytes of evaluation memory (the longest ticker, on every core)",
            "use fewer `let`s and indicators, or fewer bars per ticker",
        )
    }

    fn check_run(&self, timeout_secs: u64, args: &[String]) -> Result<()> {
        if timeout_secs == 0 {
            return Err(EngineError::Invalid(
                "the run's timeout must be at least 1 second".into(),
            ));
        }
        over(
            "max_run_timeout_secs",
            timeout_secs,
            self.max_run_timeout_secs,
            "seconds of run timeout",
            "ask for a shorter timeout",
        )?;
        over(
            "max_run_args",
            args.len() as u64,
            self.max_run_args as u64,
            "arguments",
            "pass fewer arguments (or a file)",
        )?;
        let bytes: usize = args.iter().map(String::len).sum();
        over(
            "max_run_arg_bytes",
            bytes as u64,
            self.max_run_arg_bytes as u64,
            "bytes of arguments",
            "pass shorter arguments",
        )
    }

    fn check_python(&self, source: &str) -> Result<()> {
        over(
            "max_python_bytes",
            source.len() as u64,
            self.max_python_bytes as u64,
            "bytes of Python source",
            "make the code shorter",
        )
    }

    fn check_tickers(&self, tickers: Option<&[String]>) -> Result<()> {
        let n = tickers.map_or(0, <[String]>::len);
        over(
            "max_tickers",
            n as u64,
            self.max_tickers as u64,
            "tickers listed",
            "list fewer tickers, or leave the list out to cover the whole pack",
        )
    }

    /// Checks the count of parameter values, and that each is a finite number.
    fn check_params(&self, params: &std::collections::BTreeMap<String, f64>) -> Result<()> {
        self.check_count(params.len())?;
        match params.iter().find(|(_, v)| !v.is_finite()) {
            Some((name, v)) => Err(EngineError::Invalid(format!(
                "parameter `{name}` is {v}; parameters must be finite numbers"
            ))),
            None => Ok(()),
        }
    }

    fn check_count(&self, n: usize) -> Result<()> {
        over(
            "max_params",
            n as u64,
            self.max_params as u64,
            "parameters",
            "use fewer parameters",
        )
    }

    fn check_priority(priority: Option<i8>) -> Result<()> {
        match priority {
            Some(p) if !(-10..=10).contains(&p) => Err(EngineError::Invalid(format!(
                "`priority` is {p}: give -10 to 10 (higher is claimed first; default 0)"
            ))),
            _ => Ok(()),
        }
    }

    fn check_retry(&self, retry: &RetryPolicy) -> Result<()> {
        retry.validate().map_err(EngineError::Invalid)?;
        crate::exec::retry::check_classes(&retry.per_class, self.max_attempts, "options.retry")
            .map_err(EngineError::Invalid)?;
        over(
            "max_attempts",
            u64::from(retry.maximum_attempts),
            u64::from(self.max_attempts),
            "attempts in the retry policy",
            "ask for fewer attempts",
        )
    }
}

/// A window must not end before it starts.
fn check_window(
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
) -> Result<()> {
    match (from, to) {
        (Some(f), Some(t)) if quantd_data::when::When::ends_before(f, t) => {
            Err(EngineError::Invalid(format!(
                "the window starts ({f}) after it ends ({t}); swap `from` and `to`"
            )))
        }
        _ => Ok(()),
    }
}

/// The error for results of `bytes` in all, over [`Limits::max_result_bytes`].
pub(crate) fn results_too_big(bytes: u64, max: u64) -> String {
    format!(
        "the execution's results would take {bytes} bytes, over the limit of {max} \
         (max_result_bytes, set by QUANTD_MAX_RESULT_BYTES); narrow it: fewer tickers, dates or \
         `let` columns, or a more selective condition"
    )
}

/// The error for `value` over `max` of the limit `name`.
fn over(name: &'static str, value: u64, max: u64, what: &str, fix: &str) -> Result<()> {
    if value <= max {
        return Ok(());
    }
    let var = var_of(name);
    Err(EngineError::Limit {
        limit: name,
        message: format!("{value} {what} is over the limit of {max} ({name}, set by {var}); {fix}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_sets_its_limit_and_errors_name_it() {
        let l = Limits::from_env(|v| Some(if v == "QUANTD_MAX_GRID" { "7" } else { "5" }.into()))
            .unwrap();
        assert_eq!(l.max_grid, 7);
        assert_eq!(l.max_param_sets, 5);
        assert_eq!(l.max_attempts, 5);
        assert_eq!(l.max_run_timeout_secs, 5);
        let e = l.check_grid(6, 1).unwrap_err().to_string();
        assert!(
            e.contains("max_param_sets") && e.contains("QUANTD_MAX_PARAM_SETS"),
            "{e}"
        );
        let e = l.check_grid(5, 2).unwrap_err().to_string();
        assert!(
            e.contains("max_grid") && e.contains("QUANTD_MAX_GRID"),
            "{e}"
        );
        assert!(Limits::from_env(|_| Some("lots".into())).is_err());
    }
}
