//! Absurd limits are refused before anything starts, with an error naming the limit, never a
//! panic (review H18: a wall timeout of `i64::MAX` seconds overflowed `Instant + Duration`).

mod common;
use common::*;
use quantd_core::ErrorClass;
use quantd_sandbox::{Job, SandboxError, Verdict};
use std::time::Duration;

fn extreme_timeouts_are_refused_not_a_panic(mode: Mode) {
    let extremes = [
        Duration::from_secs(u64::MAX),
        Duration::from_secs(i64::MAX as u64),
        Duration::MAX,
        Duration::from_secs(86_401),
    ];
    for wall in extremes {
        for cpu in [Duration::from_secs(2), wall] {
            let mut limits = small_limits();
            limits.wall = wall;
            limits.cpu = cpu;
            let job = Job::script("print('ran')").with_limits(limits);
            let r = run_in(mode, &config(), &job, &Default::default());
            let e = match r {
                Err(e) => e,
                Ok(o) => panic!("a job with wall {wall:?} ran: {}", show(&o)),
            };
            assert!(matches!(e, SandboxError::InvalidLimit { .. }), "{e:?}");
            assert_eq!(e.class(), ErrorClass::Validation);
            let msg = e.to_string();
            assert!(
                msg.contains("`wall`") || msg.contains("`cpu`"),
                "names the limit: {msg}"
            );
            assert!(msg.contains("86400 s"), "says the bound: {msg}");
        }
    }
    // The runner is unharmed: the next job runs.
    let o = run_with_in(mode, &config(), Job::script("print('ok')"));
    expect(&o, Verdict::Ok);
}

fn the_longest_allowed_timeout_runs(mode: Mode) {
    let mut limits = small_limits();
    limits.wall = Duration::from_secs(86_400);
    limits.cpu = Duration::from_secs(86_400);
    let o = run_with_in(
        mode,
        &config(),
        Job::script("print('ok')").with_limits(limits),
    );
    expect(&o, Verdict::Ok);
}

both_modes!(
    extreme_timeouts_are_refused_not_a_panic,
    the_longest_allowed_timeout_runs,
);
