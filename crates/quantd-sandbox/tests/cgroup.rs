//! The per-job cgroup wiring, on a plain directory standing in for a delegated cgroup v2 (this
//! machine's kernel enforcement cannot be assumed: CI hosts are often cgroup v1 or undelegated).
//! What is checked is quantd's half: each job gets its own child cgroup with `memory.max`, the job
//! is moved in before it runs (cold: S0 writes S1's host pid; warm: the job's keeper writes `0`
//! through the `cgroup.procs` fd the host opened), and `RLIMIT_AS` is lifted because the cgroup
//! limits memory instead.

mod common;
use common::*;
use quantd_sandbox::{CancelToken, Job, Verdict};
use std::path::Path;

const SHOW_RLIMIT_AS: &str = "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS))\n";

fn fake_delegated_cgroup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("cgroup.procs"), "").unwrap();
    std::fs::write(d.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    quantd_sandbox::prepare_cgroup(d.path()).unwrap();
    d
}

/// The one job cgroup created under `parent` and its files (left behind: a plain directory
/// cannot be removed the way cgroupfs removes its control files).
fn only_job_cgroup(parent: &Path) -> std::path::PathBuf {
    let jobs: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = jobs[0].clone();
    let name = job.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("job-"), "{name}");
    let read = |f: &str| std::fs::read_to_string(job.join(f)).unwrap();
    assert_eq!(read("memory.max"), (1u64 << 30).to_string());
    assert_eq!(read("memory.swap.max"), "0");
    assert_eq!(read("memory.oom.group"), "1");
    job
}

/// The job ran and saw no `RLIMIT_AS`: under a cgroup the memory limit is the cgroup's.
fn expect_rlimit_as_lifted(o: &quantd_sandbox::Outcome) {
    expect(o, Verdict::Ok);
    assert_eq!(
        stdout(o),
        "(-1, -1)\n",
        "RLIMIT_AS is lifted under a cgroup"
    );
}

#[test]
fn a_cold_job_is_moved_into_its_own_cgroup_before_it_runs() {
    let parent = fake_delegated_cgroup();
    let mut c = config();
    c.memory_cgroup = Some(parent.path().to_path_buf());
    let o = run_with(&c, Job::script(SHOW_RLIMIT_AS));
    expect_rlimit_as_lifted(&o);
    let job = only_job_cgroup(parent.path());
    let pid: i32 = std::fs::read_to_string(job.join("cgroup.procs"))
        .unwrap()
        .parse()
        .expect("S0 wrote S1's host pid");
    assert!(pid > 1);

    // Without a cgroup the job keeps its RLIMIT_AS.
    let o = run_with(&config(), Job::script(SHOW_RLIMIT_AS));
    assert_eq!(stdout(&o), "(1073741824, 1073741824)\n");
}

#[test]
fn a_warm_job_moves_itself_into_its_own_cgroup() {
    let parent = fake_delegated_cgroup();
    let mut c = config();
    c.sdk_dir = Some(sdk_dir());
    c.memory_cgroup = Some(parent.path().to_path_buf());
    let z = quantd_sandbox::Zygote::start(&c).expect("the zygote starts");
    let o = z
        .run(&Job::script(SHOW_RLIMIT_AS), &CancelToken::new())
        .unwrap();
    expect_rlimit_as_lifted(&o);
    let job = only_job_cgroup(parent.path());
    assert_eq!(
        std::fs::read_to_string(job.join("cgroup.procs")).unwrap(),
        "0",
        "the keeper moved itself in through the host's fd"
    );
}
