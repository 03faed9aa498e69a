//! Test-only failure points. `QUANTD_FAILPOINT=name:action[,name:action]` makes [`hit`] act when the
//! code reaches `name`: `pause` prints `failpoint NAME reached` to stderr and sleeps forever (so a
//! test can kill the process there); `stop` prints the same and, the first time, stops the whole
//! process with SIGSTOP (a frozen worker: no thread runs, no heartbeat is sent) until a test sends
//! SIGCONT, then goes on; `exit` ends the process with code 86; `panic` panics there (a bug in a
//! job, for tests of the engine's panic boundary). The variable is read once per
//! process; unset, [`hit`] and [`armed`] cost one atomic load and do nothing.

use std::sync::OnceLock;

/// The environment variable read by [`hit`].
pub const ENV: &str = "QUANTD_FAILPOINT";

fn spec() -> Option<&'static str> {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    SPEC.get_or_init(|| std::env::var(ENV).ok()).as_deref()
}

/// Whether any failure point is set in this process (callers skip building point names when
/// not).
pub fn armed() -> bool {
    spec().is_some()
}

/// Acts on failure point `name` if the environment asks for it.
pub fn hit(name: &str) {
    let Some(spec) = spec() else { return };
    for item in spec.split(',') {
        let (point, action) = item.split_once(':').unwrap_or((item, "pause"));
        if point != name {
            continue;
        }
        eprintln!("failpoint {name} reached");
        match action {
            "exit" => std::process::exit(86),
            "panic" => panic!("failpoint {name}"),
            "stop" => {
                static STOPPED: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !STOPPED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let _ = std::process::Command::new("kill")
                        .args(["-STOP", &std::process::id().to_string()])
                        .status();
                }
            }
            _ => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
        }
    }
}
