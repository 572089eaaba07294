//! A real Ballista cluster for tests: one `tickflow-scheduler` and N `tickflow-executor`
//! processes on 127.0.0.1, on free ports, killed when the [`Cluster`] is dropped.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the test executable
//! (`target/debug/`); `tickflow-cluster` has an integration test of its own so that cargo builds
//! them. Readiness is the scheduler's `/readyz` with `--min-ready-executors N`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a cluster may take to become ready before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Path of a workspace binary (`tickflow`, `tickflow-scheduler`, `tickflow-executor`) in the
/// target directory this test was built in. Panics with the command to build it if it is missing.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test>-<hash> -> target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p tickflow-cluster -p tickflow-cli --bins` \
         (scripts/test.sh builds every binary before testing)",
        path.display()
    );
    path
}

/// A TCP port nothing listens on right now.
///
/// Ports come from 20000–32767, below Linux's ephemeral range (32768–60999), so an outgoing
/// connection (an executor's to its scheduler) cannot be handed a port a server is about to bind;
/// each process walks the range from its own offset, so tests running side by side do not pick
/// the same ones.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_768;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-32767")
}

/// One server process and where its output goes.
#[derive(Debug)]
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, program: &str, args: &[String], dir: &Path) -> Process {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(binary(program))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Process {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running cluster; dropping it kills every process.
#[derive(Debug)]
pub struct Cluster {
    /// `df://127.0.0.1:PORT`, what `tickflow --cluster` takes.
    pub url: String,
    /// The scheduler's port (gRPC, REST and, with Flight SQL on, Flight SQL).
    pub port: u16,
    /// Each executor's Flight (shuffle and result) port.
    pub executor_ports: Vec<u16>,
    scheduler: Process,
    executors: Vec<Process>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a scheduler (serving Flight SQL) and `executors` executors with 2 task slots each,
    /// and waits until all executors have registered.
    pub fn start(executors: usize) -> Cluster {
        Self::start_with(executors, &[], &[])
    }

    /// As [`Cluster::start`], with extra scheduler and executor flags.
    ///
    /// A server that loses a race for its port ("Address already in use") restarts the whole
    /// cluster on new ports, up to three times.
    pub fn start_with(
        executors: usize,
        scheduler_flags: &[&str],
        executor_flags: &[&str],
    ) -> Cluster {
        for attempt in 1.. {
            let mut cluster = Self::launch(executors, scheduler_flags, executor_flags);
            match cluster.wait_ready() {
                Ok(()) => return cluster,
                Err(log) if attempt < 3 && log.contains("Address already in use") => continue,
                Err(log) => panic!("{log}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn launch(executors: usize, scheduler_flags: &[&str], executor_flags: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut args: Vec<String> = [
            "--bind-host",
            "127.0.0.1",
            "--external-host",
            "127.0.0.1",
            "--flight-sql",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend([
            "--bind-port".into(),
            port.to_string(),
            "--min-ready-executors".into(),
            executors.to_string(),
        ]);
        args.extend(scheduler_flags.iter().map(|s| s.to_string()));
        let scheduler = Process::spawn("scheduler", "tickflow-scheduler", &args, dir.path());
        let mut cluster = Cluster {
            url: format!("df://127.0.0.1:{port}"),
            port,
            executor_ports: Vec::new(),
            scheduler,
            executors: Vec::new(),
            dir,
        };
        for i in 0..executors {
            let work = cluster.dir.path().join(format!("work{i}"));
            std::fs::create_dir_all(&work).expect("work dir");
            let flight_port = free_port();
            cluster.executor_ports.push(flight_port);
            let mut args: Vec<String> = vec![
                "--bind-host".into(),
                "127.0.0.1".into(),
                "--external-host".into(),
                "127.0.0.1".into(),
                "--scheduler-host".into(),
                "127.0.0.1".into(),
                "--scheduler-port".into(),
                port.to_string(),
                "--bind-port".into(),
                flight_port.to_string(),
                "--bind-grpc-port".into(),
                free_port().to_string(),
                "--bind-health-port".into(),
                free_port().to_string(),
                "--vcores".into(),
                "2".into(),
                "--scheduler-connect-timeout-seconds".into(),
                "30".into(),
                "--work-dir".into(),
                work.display().to_string(),
            ];
            args.extend(executor_flags.iter().map(|s| s.to_string()));
            let name = format!("executor{i}");
            let p = Process::spawn(&name, "tickflow-executor", &args, cluster.dir.path());
            cluster.executors.push(p);
        }
        cluster
    }

    /// Waits for `/readyz`; the error is what to report (with the log of a process that died).
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(body) = http_get(self.port, "/readyz")
                && body.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
            for p in std::iter::once(&mut self.scheduler).chain(self.executors.iter_mut()) {
                if let Ok(Some(status)) = p.child.try_wait() {
                    return Err(format!(
                        "{} exited ({status}) before the cluster was ready:\n{}",
                        p.name,
                        tail(&p.log)
                    ));
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "the cluster was not ready within {READY_TIMEOUT:?}\nscheduler:\n{}",
                    tail(&self.scheduler.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Tasks executor `i` has started so far (its log lines "Execute task" when the scheduler
    /// pushes tasks, "Received task" when the executor pulls them, as with a token).
    pub fn tasks_run(&self, i: usize) -> usize {
        let log = std::fs::read_to_string(&self.executors[i].log).unwrap_or_default();
        log.matches("Execute task").count()
            + log.matches("execution_loop: Received task: [").count()
    }

    /// Kills executor `i` (SIGKILL: no goodbye to the scheduler).
    pub fn kill_executor(&mut self, i: usize) {
        self.executors[i].kill();
    }

    /// The last lines of every process's log, for failure messages.
    pub fn logs(&self) -> String {
        std::iter::once(&self.scheduler)
            .chain(&self.executors)
            .map(|p| format!("--- {} ---\n{}", p.name, tail(&p.log)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.executors {
            p.kill();
        }
        self.scheduler.kill();
    }
}

/// The raw HTTP/1.1 response to `GET path` on 127.0.0.1:`port`, if anything answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The last 40 lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
