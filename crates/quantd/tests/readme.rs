//! The README's tour, run the way a new user pastes it: every ```sh block of README.md marked
//! `<!-- tour -->` (or `<!-- tour: http … -->`), top to bottom, in one `bash` with `set -euo
//! pipefail`, with the binary cargo built on `PATH` as `quantd`, in an empty directory (the tour
//! makes every file it uses, and its own data directory there). Any command that fails fails the
//! test, with the output so far and the README line of the block.
//!
//! Marks, on the line right before a block's opening fence:
//! - `<!-- tour -->`: runs as written. A command line whose comment starts `# exit N` must exit
//!   with status N (a refusal the tour shows on purpose).
//! - `<!-- tour: http … -->`: runs as written, except that the server's address `127.0.0.1:8000`
//!   becomes a free loopback port: the README shows a fixed port a reader can type, and on a
//!   shared machine (or beside other tests) 8000 may be taken. The port is found by binding
//!   `127.0.0.1:0` and closing it just before the script starts.
//! - `<!-- tour: not run (reason) -->`: not run, for the reason given (e.g. a full build).
//!
//! A block without a mark fails the test, so no block of the README escapes it by accident.
//! Python blocks need the sandbox's runtime: `QUANTD_PYTHON` is the reference venv's interpreter
//! (`scripts/pyenv`), and the test fails, never skips, when there is none.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../../README.md");

/// The longest the whole tour may take (a debug build on 2 busy cores takes about a minute).
const TOUR_TIMEOUT: Duration = Duration::from_secs(900);

/// What the mark before a block says to do with it.
#[derive(Debug, Clone, PartialEq)]
enum Mark {
    /// Run as written.
    Run,
    /// Run with the server's address replaced by a free port.
    Http,
    /// Not run, for this reason.
    NotRun(String),
}

/// One ```sh block of the README.
#[derive(Debug, Clone)]
struct Block {
    /// The line of its opening fence (1-based).
    line: usize,
    mark: Mark,
    body: String,
}

/// Every ```sh block with its mark, or which block has no (or a malformed) mark.
fn blocks(readme: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```sh" {
            i += 1;
            continue;
        }
        let line = i + 1;
        let mark = i
            .checked_sub(1)
            .map(|p| parse_mark(lines[p].trim()))
            .unwrap_or(Err(String::new()))
            .map_err(|e| {
                format!(
                    "README.md line {line}: a ```sh block needs a mark on the line before it: \
                     `<!-- tour -->`, `<!-- tour: http … -->` or `<!-- tour: not run (reason) -->`{e}"
                )
            })?;
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .ok_or_else(|| format!("README.md line {line}: the block is never closed"))?;
        let body = lines[i + 1..end].join("\n");
        out.push(Block { line, mark, body });
        i = end + 1;
    }
    Ok(out)
}

/// Reads `<!-- tour -->`, `<!-- tour: http … -->` or `<!-- tour: not run (reason) -->`.
fn parse_mark(text: &str) -> Result<Mark, String> {
    let inner = text
        .strip_prefix("<!--")
        .and_then(|t| t.strip_suffix("-->"))
        .map(str::trim)
        .ok_or_else(String::new)?;
    let rest = inner.strip_prefix("tour").ok_or_else(String::new)?.trim();
    if rest.is_empty() {
        return Ok(Mark::Run);
    }
    let rest = rest
        .strip_prefix(':')
        .map(str::trim)
        .ok_or_else(|| format!("; found `{text}`"))?;
    if rest.starts_with("http") {
        return Ok(Mark::Http);
    }
    match rest.strip_prefix("not run") {
        Some(reason) if reason.trim().len() > 2 => Ok(Mark::NotRun(reason.trim().to_string())),
        Some(_) => Err(format!("; `{text}` must say why it is not run")),
        None => Err(format!("; found `{text}`")),
    }
}

/// A line `COMMAND   # exit N …` as the command and N.
fn expected_exit(line: &str) -> Option<(&str, i32)> {
    let (command, comment) = line.split_once(" # exit ")?;
    let digits: String = comment.chars().take_while(char::is_ascii_digit).collect();
    Some((command.trim_end(), digits.parse().ok()?))
}

/// The block as the script runs it: `# exit N` lines checked, the server on `addr` for http.
fn script_of(block: &Block, addr: &str) -> String {
    let mut out = format!("echo '== README.md line {}' >&2\n", block.line);
    for (n, text) in block.body.lines().enumerate() {
        let at = block.line + 1 + n;
        let text = match block.mark {
            Mark::Http => text.replace("127.0.0.1:8000", addr),
            _ => text.to_string(),
        };
        match expected_exit(&text) {
            Some((command, code)) => out.push_str(&format!(
                "if {command}; then echo 'README.md line {at}: expected exit {code}, got 0' >&2; exit 1; \
                 else rc=$?; [ \"$rc\" -eq {code} ] || {{ echo \"README.md line {at}: expected exit {code}, got $rc\" >&2; exit 1; }}; fi\n"
            )),
            None => {
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    out
}

/// The whole tour as one script: every block that runs, in order, in one shell.
fn tour_script(blocks: &[Block], addr: &str) -> String {
    // Stop at the first failing command; end the tour's background server however it ends.
    let mut script = String::from(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT\n",
    );
    for b in blocks.iter().filter(|b| !matches!(b.mark, Mark::NotRun(_))) {
        script.push_str(&script_of(b, addr));
    }
    script
}

/// A loopback address with a port nothing listens on right now.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").to_string()
}

/// Runs `script` in `dir` with `quantd` on PATH; returns (exit status, stdout, stderr), or fails
/// after [`TOUR_TIMEOUT`], ending the script's whole process group.
fn run_tour(dir: &Path, script: &str) -> (Option<i32>, String, String) {
    use std::os::unix::process::CommandExt;
    let path = dir.join("tour.sh");
    std::fs::write(&path, script).expect("write the tour script");
    let bin = Path::new(env!("CARGO_BIN_EXE_quantd"))
        .parent()
        .expect("the binary's directory");
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&inherited));
    let python = common::reference_python();
    let work = dir.join("home");
    std::fs::create_dir_all(&work).expect("make the tour's directory");
    let mut child = Command::new("bash")
        .arg(&path)
        .current_dir(&work)
        .env("PATH", std::env::join_paths(paths).expect("PATH"))
        .env("QUANTD_DATA", dir.join("data"))
        .env("QUANTD_PYTHON", python)
        .env_remove("QUANTD_DATABASE_URL")
        .env_remove("QUANTD_FAILPOINT")
        .env_remove("QUANTD_UNSAFE_NO_SANDBOX")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run bash");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if started.elapsed() > TOUR_TIMEOUT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    );
    (status.and_then(|s| s.code()), out, err)
}

#[test]
fn every_sh_block_of_the_readme_is_marked_and_the_tour_has_them_all() {
    let all = blocks(README).unwrap_or_else(|e| panic!("{e}"));
    let run = all
        .iter()
        .filter(|b| !matches!(b.mark, Mark::NotRun(_)))
        .count();
    assert!(run >= 5, "the tour runs only {run} blocks: {all:#?}");
    assert_eq!(
        all.iter().filter(|b| b.mark == Mark::Http).count(),
        1,
        "one block serves the API"
    );
    let tour = tour_script(&all, "127.0.0.1:1");
    for needed in [
        "quantd data synth",
        "quantd data import",
        "quantd scan --pack",
        "quantd code rollback",
        "quantd test --pack",
        "quantd backtest --pack",
        "quantd sweep --pack",
        "quantd pause",
        "quantd resume",
        "quantd cancel",
        "--file oversold.py",
        "quantd run bot.py",
        "quantd serve",
    ] {
        assert!(tour.contains(needed), "the tour does not run `{needed}`");
    }
}

#[test]
fn marks_and_expected_exits_are_read_strictly() {
    assert_eq!(parse_mark("<!-- tour -->"), Ok(Mark::Run));
    assert_eq!(
        parse_mark("<!-- tour: http (a free port) -->"),
        Ok(Mark::Http)
    );
    assert_eq!(
        parse_mark("<!-- tour: not run (it builds) -->"),
        Ok(Mark::NotRun("(it builds)".into()))
    );
    assert!(parse_mark("<!-- tour: not run -->").is_err(), "a reason");
    assert!(parse_mark("<!-- tour: maybe -->").is_err());
    assert!(parse_mark("some prose").is_err());
    let err = blocks("text\n```sh\nquantd data list\n```\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        expected_exit("quantd data import b.csv --name x   # exit 1: refused"),
        Some(("quantd data import b.csv --name x", 1))
    );
    assert_eq!(expected_exit("quantd data list   # name, id"), None);
    let block = Block {
        line: 10,
        mark: Mark::Run,
        body: "false   # exit 1\ntrue   # exit 1".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_tour(dir.path(), &tour_script(&[block], "127.0.0.1:1"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("README.md line 12: expected exit 1, got 0"),
        "{err}"
    );
}

#[test]
fn the_readme_tour_runs_top_to_bottom() {
    let all = blocks(README).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let (code, out, err) = run_tour(dir.path(), &tour_script(&all, &addr));
    assert_eq!(
        code,
        Some(0),
        "the README tour failed (or took over {TOUR_TIMEOUT:?}); the last block announced in \
         stderr is the one that failed.\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
    );
    // Shown with `--nocapture`: what a reader of the tour sees.
    println!("--- stdout ---\n{out}\n--- stderr ---\n{err}");
    // What the tour says it makes, it made.
    let tour = dir.path().join("home/quantd-tour");
    for file in ["hits.parquet", "heatmap.csv", "sweep.csv", "u.parquet"] {
        assert!(tour.join(file).is_file(), "the tour did not write {file}");
    }
    assert!(out.contains("event: done"), "the SSE stream ends: {out}");
}

/// The workspace's root directory.
fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crates of the workspace (`crates/*`), by directory name.
fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("read crates/")
        .map(|e| e.expect("a crates/ entry"))
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The README's Layout block.
fn layout() -> &'static str {
    let start = README.find("## Layout").expect("a Layout section");
    let rest = &README[start..];
    let open = rest.find("```\n").expect("the Layout block") + 4;
    let close = rest[open..].find("```").expect("the Layout block's end");
    &rest[open..open + close]
}

#[test]
fn the_layout_lists_every_crate_and_only_what_exists() {
    let layout = layout();
    for name in crates() {
        assert!(
            layout.contains(&format!("crates/{name} ")),
            "README's Layout does not list crates/{name}"
        );
    }
    for line in layout.lines() {
        let path = line.split_whitespace().next().unwrap_or_default();
        assert!(
            root().join(path).exists(),
            "README's Layout lists `{path}`, which does not exist"
        );
    }
    for dir in ["fuzz/", "python/quantd/", "scripts/", "bench/", "docs/"] {
        assert!(layout.contains(dir), "README's Layout does not list {dir}");
    }
}

#[test]
fn every_crate_says_what_it_is_and_promises_nothing_unbuilt() {
    for name in crates() {
        let dir = root().join("crates").join(&name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let description = manifest
            .lines()
            .find_map(|l| l.strip_prefix("description = "))
            .unwrap_or_else(|| panic!("crates/{name}/Cargo.toml has no description"));
        let lib = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("crates/{name} has no lib.rs or main.rs"));
        let source = std::fs::read_to_string(&lib).expect("the crate root");
        let doc: String = source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!")))
            .collect();
        assert!(
            doc.split_whitespace().count() >= 10,
            "{} does not open with a `//!` paragraph saying what the crate does",
            lib.display()
        );
        // Surfaces that do not exist yet (MCP tools) are named only as planned.
        for (what, text) in [("description", description), ("crate doc", doc.as_str())] {
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            for (at, _) in flat.match_indices("MCP") {
                let start = flat.floor_char_boundary(at.saturating_sub(40));
                let end = flat.floor_char_boundary(at + 40);
                let around = &flat[start..end];
                assert!(
                    around.contains("planned"),
                    "crates/{name}'s {what} names MCP as if it existed: `…{around}…`"
                );
            }
        }
    }
}

/// Every file under `dir`, as paths relative to the workspace's root.
fn files_under(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else if let Ok(rel) = path.strip_prefix(root()) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn architecture_md_names_every_crate_and_only_files_that_exist() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md"))
        .expect("docs/architecture.md exists");
    for name in crates() {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "docs/architecture.md's table has no row for {name}"
        );
    }
    let mut sources = Vec::new();
    files_under(&root().join("crates"), &mut sources);
    // Every source file named in `code` (`exec/pool.rs`, `src/any.rs`, …) exists under crates/.
    let named = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.ends_with(".rs") && !t.contains(' '));
    for file in named {
        assert!(
            sources.iter().any(|s| s.ends_with(&format!("/{file}"))),
            "docs/architecture.md names `{file}`, which no crate has"
        );
    }
}
