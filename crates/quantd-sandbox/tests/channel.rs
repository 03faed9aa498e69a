//! A job's duplex channel to its host ([`Job::with_channel`]), through the warm zygote: the job
//! talks to a host thread over fd 3 while it runs, a job without one has no fd 3, a killed job's
//! channel ends without hanging the host, the job is as confined as any, and the cold path
//! refuses it.

mod common;
use common::*;
use quantd_sandbox::{CHANNEL_FD_ENV, CancelToken, Job, SandboxError, Verdict};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a serving thread may take to end once it should (the test fails instead of hanging).
const END_WITHIN: Duration = Duration::from_secs(10);

/// A job that answers each length-prefixed message (4 bytes, big-endian) on its channel with the
/// message reversed and upper-cased, until the host closes its side; then prints how many it
/// answered. Plain `os.read`/`os.write` on the fd, with `poll` before each read when run with
/// `--poll`.
const ECHO: &str = r#"
import os, select, struct, sys
fd = int(os.environ["QUANTD_CHANNEL_FD"])
poller = select.poll() if "--poll" in sys.argv else None
if poller:
    poller.register(fd, select.POLLIN)
def read_exact(n):
    buf = b""
    while len(buf) < n:
        if poller:
            poller.poll()
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
def write_all(data):
    while data:
        data = data[os.write(fd, data):]
n = 0
while (head := read_exact(4)) is not None:
    msg = read_exact(struct.unpack(">I", head)[0])
    reply = msg[::-1].upper()
    write_all(struct.pack(">I", len(reply)) + reply)
    n += 1
print(n)
"#;

/// `code` as a job with a channel and the tests' limits, and the host's end of the channel.
fn channel_job(code: &str) -> (Job, UnixStream) {
    let (host, theirs) = UnixStream::pair().expect("socketpair");
    let job = Job::script(code)
        .with_channel(OwnedFd::from(theirs))
        .with_limits(small_limits());
    (job, host)
}

fn send(s: &mut UnixStream, msg: &[u8]) -> std::io::Result<()> {
    let mut frame = (msg.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(msg);
    s.write_all(&frame)
}

fn recv(s: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    let mut msg = vec![0u8; u32::from_be_bytes(head) as usize];
    s.read_exact(&mut msg)?;
    Ok(msg)
}

fn transformed(msg: &[u8]) -> Vec<u8> {
    msg.iter().rev().map(u8::to_ascii_uppercase).collect()
}

/// Serves `host` on a thread: sends each of `messages`, asserts each reply, then closes the
/// host's writing side (the job's cue to end). Returns the round-trip times.
fn serve(mut host: UnixStream, messages: Vec<Vec<u8>>) -> JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut times = Vec::with_capacity(messages.len());
        for (i, msg) in messages.iter().enumerate() {
            let t = Instant::now();
            send(&mut host, msg).unwrap_or_else(|e| panic!("send {i}: {e}"));
            let reply = recv(&mut host).unwrap_or_else(|e| panic!("reply {i}: {e}"));
            times.push(t.elapsed());
            assert_eq!(reply, transformed(msg), "reply {i}");
        }
        host.shutdown(Shutdown::Write).unwrap();
        times
    })
}

/// Runs an [`ECHO`] job in the shared zygote for `messages`; returns its outcome and the
/// round-trip times.
fn echo(messages: Vec<Vec<u8>>, args: &[&str]) -> (quantd_sandbox::Outcome, Vec<Duration>) {
    let n = messages.len();
    let (job, host) = channel_job(ECHO);
    let job = job.with_args(args.iter().copied());
    let stop = host.try_clone().unwrap();
    let server = serve(host, messages);
    let o = zygote().run(&job, &CancelToken::new());
    // Whatever happened to the job, the serving thread ends (see `Job::channel`).
    stop.shutdown(Shutdown::Both).unwrap();
    let o = o.expect("the sandbox runs the job");
    let times = server.join();
    expect(&o, Verdict::Ok);
    let times = times.expect("every reply is right");
    assert_eq!(stdout(&o), format!("{n}\n"));
    (o, times)
}

#[test]
fn a_job_answers_a_thousand_messages_on_its_channel() {
    let messages: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            format!("fill? bar={i} px={} ", i * 7)
                .repeat(i % 5)
                .into_bytes()
        })
        .collect();
    echo(messages, &["--poll"]);
}

#[test]
fn concurrent_jobs_each_talk_to_their_own_host() {
    let jobs: Vec<_> = (0..4)
        .map(|j| {
            std::thread::spawn(move || {
                let messages = (0..200)
                    .map(|i| format!("job {j} message {i}").into_bytes())
                    .collect();
                echo(messages, &[]);
            })
        })
        .collect();
    for j in jobs {
        j.join().unwrap();
    }
}

/// Not a bound (the machine is shared): the figure for the report, in the test's output.
#[test]
fn channel_round_trip_latency() {
    let messages: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("{i:0>100}").into_bytes())
        .collect();
    let t = Instant::now();
    let (_, times) = echo(messages, &[]);
    let total = t.elapsed();
    // The first trips wait for the job (and, in a fresh test process, the zygote) to start.
    let mut times = times[100..].to_vec();
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().map(|d| us(*d)).sum::<f64>() / times.len() as f64;
    eprintln!(
        "channel round trip (100 bytes each way, {} trips after 100 of warm-up): mean {mean:.1} µs, \
         p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs; whole job {total:?}",
        times.len(),
        us(times[times.len() / 2]),
        us(times[times.len() * 99 / 100]),
        us(times[times.len() - 1]),
    );
}

#[test]
fn a_job_without_a_channel_has_no_fd_3_and_no_variable() {
    // Even when its request's environment names one.
    let mut job = Job::script(
        r#"
import errno, json, os
try:
    os.fstat(3)
    fd3 = "open"
except OSError as e:
    fd3 = errno.errorcode[e.errno]
print(json.dumps({"fd3": fd3, "env": os.environ.get("QUANTD_CHANNEL_FD")}))
"#,
    );
    job.env.push((CHANNEL_FD_ENV.into(), "3".into()));
    let o = run_with_in(Mode::Zygote, &config(), job);
    expect(&o, Verdict::Ok);
    let res: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(res, serde_json::json!({"fd3": "EBADF", "env": null}));
}

/// A job blocked reading its channel while the host's thread is blocked reading its end: the job
/// is cancelled; once `run` returns and the host shuts its end down, the thread ends.
#[test]
fn a_cancelled_jobs_server_ends_once_the_host_shuts_its_end() {
    let (job, host) = channel_job("import os\nos.write(3, b'ready\\n')\nos.read(3, 1)\n");
    let stop = host.try_clone().unwrap();
    let cancel = CancelToken::new();
    let (done, ended) = mpsc::channel();
    std::thread::spawn({
        let cancel = cancel.clone();
        let mut host = host;
        move || {
            let mut ready = [0u8; 6];
            let said = host.read_exact(&mut ready).map(|()| ready);
            // The job runs and waits on its channel: cancel it while this thread blocks on its end.
            cancel.cancel();
            let _ = done.send((said, host.read(&mut [0u8; 1])));
        }
    });
    let r = zygote().run(&job, &cancel);
    assert!(matches!(r, Err(SandboxError::Cancelled)), "{r:?}");
    // The Job still holds its copy of the job's end: EOF alone would not come.
    stop.shutdown(Shutdown::Both).unwrap();
    let (said, last) = ended
        .recv_timeout(END_WITHIN)
        .expect("the serving thread ends after the host shuts its end down");
    assert_eq!(&said.unwrap(), b"ready\n");
    assert_eq!(last.unwrap(), 0, "no bytes after the job was killed");
    drop(job);
}

/// A job killed by its wall limit while both sides wait on each other: once `run` returned and
/// the `Job` is dropped, the host's end sees EOF without any shutdown, so neither the zygote nor
/// the job's keeper kept a copy of the job's end.
#[test]
fn a_timed_out_jobs_channel_is_held_by_nothing_else() {
    let (job, host) = channel_job("import os\nos.write(3, b'r')\nos.read(3, 1)\n");
    let mut limits = small_limits();
    limits.wall = Duration::from_secs(1);
    let job = job.with_limits(limits);
    let o = zygote().run(&job, &CancelToken::new()).unwrap();
    expect(&o, Verdict::WallTimeout);
    drop(job);
    let (done, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        let _ = done.send((&host).read_to_end(&mut said).map(|_| said));
    });
    let said = ended
        .recv_timeout(END_WITHIN)
        .expect("EOF once the job is gone and the Job dropped: no other copy of its end");
    assert_eq!(said.unwrap(), b"r");
}

/// A job with a channel is confined like any other: fds 0-3 only (3 the channel, a socket with
/// no address), no network, no host loopback or abstract socket, only itself in its PID
/// namespace, Landlock on.
#[test]
fn a_channel_job_is_still_isolated() {
    use std::os::linux::net::SocketAddrExt;
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let name = format!("quantd-test-{}", token());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    unix.set_nonblocking(true).unwrap();
    let code = format!(
        r#"
import errno, json, os, socket, stat
res = {{"env": os.environ.get("QUANTD_CHANNEL_FD")}}
open_fds = []
for fd in range(3, 1025):
    try:
        os.fstat(fd)
        open_fds.append(fd)
    except OSError:
        pass
res["fds"] = open_fds
res["fd3_is_socket"] = stat.S_ISSOCK(os.fstat(3).st_mode)
with socket.socket(fileno=os.dup(3)) as s:
    res["peer"] = s.getpeername()
def attempt(name, f):
    try:
        f()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e.errno))
def tcp(host, port):
    s = socket.socket(); s.settimeout(2); s.connect((host, port))
attempt("tcp_1.1.1.1", lambda: tcp("1.1.1.1", 80))
attempt("loopback", lambda: tcp("127.0.0.1", {port}))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
def abstract():
    s = socket.socket(socket.AF_UNIX); s.connect("\0{name}")
attempt("abstract", abstract)
attempt("comm", lambda: open("/proc/self/comm", "w").write("renamed"))
attempt("usr", lambda: open("/usr/quantd-test", "w"))
res["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
os.write(3, (json.dumps(res) + "\n").encode())
"#
    );
    let (job, mut host) = channel_job(&code);
    let o = zygote().run(&job, &CancelToken::new()).unwrap();
    // What the job wrote stays readable after the shutdown, then EOF.
    host.shutdown(Shutdown::Both).unwrap();
    expect(&o, Verdict::Ok);
    let mut said = String::new();
    host.read_to_string(&mut said).unwrap();
    let res: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(res["env"], "3", "{res}");
    assert_eq!(res["fds"], serde_json::json!([3]), "{res}");
    assert_eq!(res["fd3_is_socket"], true, "{res}");
    assert_eq!(res["peer"], "", "an unnamed socket pair: {res}");
    assert_eq!(res["tcp_1.1.1.1"], "EAFNOSUPPORT", "{res}");
    assert_eq!(res["loopback"], "EAFNOSUPPORT", "{res}");
    for k in ["dns", "abstract", "usr"] {
        assert!(res[k].as_str().is_some_and(|v| v != "ok"), "{k}: {res}");
    }
    let landlock = quantd_sandbox::host_support().landlock_abi.is_some();
    assert_eq!(res["comm"], if landlock { "EACCES" } else { "ok" }, "{res}");
    assert_eq!(res["pids"], serde_json::json!([1]), "{res}");
    assert!(tcp.accept().is_err(), "the job reached the host's loopback");
    assert!(
        unix.accept().is_err(),
        "the job reached the host's abstract socket"
    );
}

#[test]
fn the_cold_path_refuses_a_job_with_a_channel() {
    let (job, _host) = channel_job("print(1)");
    let err = quantd_sandbox::run(&config(), &job, &CancelToken::new())
        .map(drop)
        .unwrap_err();
    assert!(matches!(err, SandboxError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("warm zygote"), "{err}");
}
