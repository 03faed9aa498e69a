//! Test-only failure points. `QUANTD_FAILPOINT=name:action[,name:action]` makes [`hit`] act when the
//! code reaches `name`: `pause` prints `failpoint NAME reached` to stderr and sleeps forever (so a
//! test can kill the process there); `exit` ends the process with code 86. Unset, [`hit`] costs one
//! environment lookup and does nothing.

/// The environment variable read by [`hit`].
pub const ENV: &str = "QUANTD_FAILPOINT";

/// Acts on failure point `name` if the environment asks for it.
pub fn hit(name: &str) {
    let Ok(spec) = std::env::var(ENV) else { return };
    for item in spec.split(',') {
        let (point, action) = item.split_once(':').unwrap_or((item, "pause"));
        if point != name {
            continue;
        }
        eprintln!("failpoint {name} reached");
        match action {
            "exit" => std::process::exit(86),
            _ => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
        }
    }
}
