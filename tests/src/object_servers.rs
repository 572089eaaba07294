//! Real object-storage servers for tests, and a proxy that injects faults in front of them.
//!
//! - [`S3Server`]: moto's S3 server (`moto_server`, Python), on 127.0.0.1 and a free port.
//! - [`Azurite`]: Microsoft's Azure Blob emulator (`azurite-blob`, Node.js), likewise.
//! - [`FaultProxy`]: a TCP proxy on its own thread that counts the HTTP/1.1 requests it forwards
//!   and can answer 503 SlowDown, go down (connection refused) or hang.
//!
//! `bash scripts/test.sh` installs the servers (moto into `~/.cache/tickflow-venv`, Azurite into
//! `~/.cache/tickflow-npm`) and passes them as `TICKFLOW_MOTO_SERVER` and `TICKFLOW_AZURITE`;
//! without those variables the same default paths are used. A missing server is a panic that
//! says how to install it: these tests are never skipped silently.
//!
//! Each server runs with its output in a log file in its own temporary directory and is killed
//! when dropped. `requests(method, path_contains)` counts the requests a server has answered
//! from its own access log, whose lines are (verified with moto 5.2 / Werkzeug 3.1 and Azurite
//! 3.35):
//!
//! ```text
//! moto:    127.0.0.1 - - [24/Nov/2026 06:11:05] "PUT /bucket/x/y.bin HTTP/1.1" 200 -
//!          127.0.0.1 - - [24/Nov/2026 06:11:05] "\e[35m\e[1mGET /bucket/x/y.bin HTTP/1.1\e[0m" 206 -
//! Azurite: 127.0.0.1 - - [24/Nov/2026:06:11:39 +0000] "PUT /devstoreaccount1/c/a/b.bin HTTP/1.1" 201 -
//! ```
//!
//! Werkzeug colours the request of a non-2xx response with ANSI escapes (even into a file); they
//! are stripped. The path includes the query string (`/bucket?list-type=2`,
//! `/devstoreaccount1/c?restype=container`). Werkzeug logs a request before it sends the
//! response; Azurite logs it when the response has finished, so [`Azurite::requests`] first
//! sends a marker request and waits for its line, which makes every response a client has already
//! received visible in the count. The helpers' own probes (`/__tickflow_...`) are not counted.
//!
//! moto answers every request with `Connection: close` (no keep-alive); Azurite keeps connections
//! alive for 5 s (`--blobKeepAliveTimeout`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::watch;

use crate::cluster::free_port;

/// How long a server may take to answer its first HTTP request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Paths of the helpers' own requests (readiness probes, log markers); never counted.
const INTERNAL_PATH: &str = "/__tickflow_";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `$var`, else `~/<fallback>`; panics with how to install it if there is no file there.
fn tool(var: &str, fallback: &str, what: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(fallback),
    };
    assert!(
        path.is_file(),
        "{what} not found at {}: run `bash scripts/test.sh` once (it installs it), or set {var} \
         to its path",
        path.display()
    );
    path
}

/// The test virtualenv's Python, with boto3 and azure-storage-blob.
fn python() -> PathBuf {
    tool(
        "TICKFLOW_PYTHON",
        ".cache/tickflow-venv/bin/python",
        "the test virtualenv's python (with boto3 and azure-storage-blob)",
    )
}

/// Runs a Python script with `args`, `stdin` as its standard input; panics with its stderr if
/// it fails.
fn run_python(what: &str, script: &str, args: &[&str], stdin: &[u8]) {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start python: {e}"));
    let mut input = child.stdin.take().expect("python's stdin is piped");
    input
        .write_all(stdin)
        .unwrap_or_else(|e| panic!("{what}: cannot write to python: {e}"));
    drop(input);
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{what}: python did not finish: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n(the test virtualenv needs boto3 and azure-storage-blob: run \
         `bash scripts/test.sh`)",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends one request with `Connection: close` to 127.0.0.1:`port` and returns the raw response,
/// if anything answered within 5 s.
fn http_request(port: u16, method: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    (!response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `(method, path)` of each request in an access log in common log format.
fn access_log_requests(log: &str) -> Vec<(String, String)> {
    strip_ansi(log)
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once('"')?;
            let (request, _) = rest.split_once('"')?;
            let mut parts = request.split_whitespace();
            let method = parts.next()?;
            let path = parts.next()?;
            parts
                .next()
                .filter(|version| version.starts_with("HTTP/"))?;
            Some((method.to_string(), path.to_string()))
        })
        .collect()
}

/// How many requests in `log` have this method and a path containing `path_contains`.
fn count_requests(log: &str, method: &str, path_contains: &str) -> usize {
    access_log_requests(log)
        .iter()
        .filter(|(m, p)| m == method && p.contains(path_contains) && !p.starts_with(INTERNAL_PATH))
        .count()
}

/// The last 40 lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A server process on 127.0.0.1 with its log file and working directory.
#[derive(Debug)]
struct ServerProcess {
    name: &'static str,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
    /// The log file and anything the server stores; removed on drop.
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `program` with `args(port, dir)` and waits until it answers HTTP. A server that
    /// loses a race for its port is restarted on another one, up to three times.
    fn start(
        name: &'static str,
        program: &Path,
        args: impl Fn(u16, &Path) -> Vec<String>,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        for attempt in 1.. {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let log = dir.path().join(format!("{name}.log"));
            let out = File::create(&log).expect("log file");
            let err = out.try_clone().expect("log file");
            let child = Command::new(program)
                .args(args(port, dir.path()))
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {name} ({}): {e}; run `bash scripts/test.sh` to install it \
                         (Azurite also needs `node` on PATH)",
                        program.display()
                    )
                });
            let mut server = ServerProcess {
                name,
                port,
                child: Some(child),
                log,
                _dir: dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(log)
                    if attempt < 3
                        && (log.contains("Address already in use")
                            || log.contains("EADDRINUSE")) =>
                {
                    continue;
                }
                Err(log) => panic!("{log}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let probe = format!("{INTERNAL_PATH}ready__");
            if http_request(self.port, "GET", &probe).is_some_and(|r| r.starts_with("HTTP/1.")) {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{} exited ({status}) before it answered HTTP on port {}:\n{}",
                    self.name,
                    self.port,
                    tail(&self.log)
                ));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "{} did not answer HTTP on port {} within {READY_TIMEOUT:?}:\n{}",
                    self.name,
                    self.port,
                    tail(&self.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn running(&self) -> bool {
        self.child.is_some()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto's S3 server on 127.0.0.1; killed on drop.
///
/// Any credentials are accepted; [`S3Server::ACCESS_KEY_ID`], [`S3Server::SECRET_ACCESS_KEY`] and
/// [`S3Server::REGION`] are the ones the helpers use. Buckets are path-style:
/// `{endpoint}/{bucket}/{key}`.
#[derive(Debug)]
pub struct S3Server {
    server: ServerProcess,
}

impl S3Server {
    pub const ACCESS_KEY_ID: &'static str = "test";
    pub const SECRET_ACCESS_KEY: &'static str = "test";
    pub const REGION: &'static str = "us-east-1";

    /// Starts `$TICKFLOW_MOTO_SERVER` (else `~/.cache/tickflow-venv/bin/moto_server`) and waits
    /// until it answers HTTP.
    pub fn start() -> S3Server {
        let program = tool(
            "TICKFLOW_MOTO_SERVER",
            ".cache/tickflow-venv/bin/moto_server",
            "moto_server (pip package moto[server])",
        );
        let args = |port: u16, _: &Path| {
            vec![
                "-H".to_string(),
                "127.0.0.1".to_string(),
                "-p".to_string(),
                port.to_string(),
            ]
        };
        let server = ServerProcess::start("moto", &program, args, &[("PYTHONUNBUFFERED", "1")]);
        S3Server { server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The environment a `tickflow` process needs to reach this server (`AWS_*`).
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", Self::SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", Self::REGION.into()),
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The `SET s3.…` options of a session that reaches this server at `endpoint` (its own, or
    /// a proxy's in front of it).
    pub fn session_settings(endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("s3.access_key_id", Self::ACCESS_KEY_ID.to_string()),
            ("s3.secret_access_key", Self::SECRET_ACCESS_KEY.to_string()),
            ("s3.region", Self::REGION.to_string()),
            ("s3.endpoint", endpoint.to_string()),
            ("s3.allow_http", "true".to_string()),
        ]
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Creates a bucket (an unsigned `PUT /name`, which moto accepts).
    pub fn create_bucket(&self, name: &str) {
        let response = http_request(self.server.port, "PUT", &format!("/{name}"));
        assert!(
            response
                .as_deref()
                .is_some_and(|r| r.starts_with("HTTP/1.1 200")),
            "creating bucket {name} on moto failed: {response:?}\n{}",
            tail(&self.server.log)
        );
    }

    /// Writes an object with boto3.
    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        const SCRIPT: &str = r#"
import sys, boto3
endpoint, bucket, key = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
s3.put_object(Bucket=bucket, Key=key, Body=sys.stdin.buffer.read())
"#;
        run_python(
            &format!("put_object s3://{bucket}/{key}"),
            SCRIPT,
            &[&self.endpoint(), bucket, key],
            bytes,
        );
    }

    /// How many `method` requests whose path (with its query string) contains `path_contains`
    /// the server has answered so far, from its access log.
    pub fn requests(&self, method: &str, path_contains: &str) -> usize {
        count_requests(&self.server.log(), method, path_contains)
    }

    /// The server's whole log (its access log and any errors), for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Kills the server (SIGKILL); [`S3Server::requests`] still reads its log.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// Azurite's Blob service on 127.0.0.1; killed on drop.
///
/// The account is the emulator's well-known `devstoreaccount1`, path-style:
/// `{endpoint}/{container}/{blob}` with `endpoint` = `http://127.0.0.1:PORT/devstoreaccount1`.
#[derive(Debug)]
pub struct Azurite {
    server: ServerProcess,
    markers: AtomicU64,
}

impl Azurite {
    pub const ACCOUNT: &'static str = "devstoreaccount1";
    pub const KEY: &'static str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// Starts `$TICKFLOW_AZURITE` (else `~/.cache/tickflow-npm/node_modules/.bin/azurite-blob`)
    /// with its data in a temporary directory, and waits until it answers HTTP.
    pub fn start() -> Azurite {
        let program = tool(
            "TICKFLOW_AZURITE",
            ".cache/tickflow-npm/node_modules/.bin/azurite-blob",
            "azurite-blob (npm package azurite)",
        );
        let args = |port: u16, dir: &Path| {
            let data = dir.join("data");
            std::fs::create_dir_all(&data).expect("azurite data dir");
            [
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
                &data.display().to_string(),
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--disableProductStyleUrl",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let server = ServerProcess::start("azurite", &program, args, &[]);
        Azurite {
            server,
            markers: AtomicU64::new(0),
        }
    }

    /// `devstoreaccount1`.
    pub fn account(&self) -> &'static str {
        Self::ACCOUNT
    }

    /// The emulator's well-known account key (base64).
    pub fn key(&self) -> &'static str {
        Self::KEY
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.server.port, Self::ACCOUNT)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// A connection string for Azure SDKs.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint={};",
            Self::ACCOUNT,
            Self::KEY,
            self.endpoint()
        )
    }

    /// Creates a container with azure-storage-blob.
    pub fn create_container(&self, name: &str) {
        const SCRIPT: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient
BlobServiceClient.from_connection_string(sys.argv[1]).create_container(sys.argv[2])
"#;
        run_python(
            &format!("create_container {name}"),
            SCRIPT,
            &[&self.connection_string(), name],
            b"",
        );
    }

    /// Writes a block blob with azure-storage-blob.
    pub fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) {
        const SCRIPT: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient
blob = BlobServiceClient.from_connection_string(sys.argv[1]).get_blob_client(sys.argv[2], sys.argv[3])
blob.upload_blob(sys.stdin.buffer.read(), overwrite=True)
"#;
        run_python(
            &format!("put_blob {container}/{name}"),
            SCRIPT,
            &[&self.connection_string(), container, name],
            bytes,
        );
    }

    /// How many `method` requests whose path (with its query string) contains `path_contains`
    /// the server has answered so far, from its access log. Azurite writes a line once the
    /// response has finished, so this first waits for the line of a marker request.
    pub fn requests(&self, method: &str, path_contains: &str) -> usize {
        if self.server.running() {
            let n = self.markers.fetch_add(1, Ordering::SeqCst);
            let marker = format!("{INTERNAL_PATH}marker__/{n}");
            let _ = http_request(self.server.port, "GET", &marker);
            let needle = format!("{marker} HTTP/");
            let started = Instant::now();
            while !self.server.log().contains(&needle) {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "Azurite did not log {marker} within 10 s:\n{}",
                    tail(&self.server.log)
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        count_requests(&self.server.log(), method, path_contains)
    }

    /// The server's whole log (its access log and any errors), for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Kills the server (SIGKILL); [`Azurite::requests`] still reads its log.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Tunnel to the upstream.
    Forward,
    /// Accept, read, never answer.
    Hang,
    /// Not listening; every connection closed.
    Down,
}

#[derive(Debug, Clone, Copy)]
struct Control {
    mode: Mode,
    /// Bumped to drop every live connection: each one dies when the epoch it started in ends.
    epoch: u64,
}

#[derive(Debug)]
struct Shared {
    upstream: u16,
    control: watch::Sender<Control>,
    requests: AtomicUsize,
    forwarded: AtomicUsize,
    /// Connections still to answer with 503.
    failing: AtomicUsize,
    /// Requests still to forward before going down.
    stop_after: Mutex<Option<usize>>,
    /// `METHOD target` of every request seen, in order.
    lines: Mutex<Vec<String>>,
    /// Live connections by the epoch they started in.
    live: Mutex<BTreeMap<u64, usize>>,
}

impl Shared {
    fn mode(&self) -> Mode {
        self.control.borrow().mode
    }

    fn seen(&self, head: &Head) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        lock(&self.lines).push(format!("{} {}", head.method, head.target));
    }

    /// Whether this connection is one of those to answer 503.
    fn take_failure(&self) -> bool {
        self.failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Whether a request may be forwarded (`stop_after` not used up).
    fn admit(&self) -> bool {
        if self.mode() == Mode::Down {
            return false;
        }
        match &mut *lock(&self.stop_after) {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }

    fn go_down(&self) {
        self.control.send_modify(|c| c.mode = Mode::Down);
    }

    /// Starts a new epoch (dropping every live connection) and waits until the old ones are
    /// closed.
    fn new_epoch(&self, mode: impl FnOnce(Mode) -> Mode) {
        let mut epoch = 0;
        self.control.send_modify(|c| {
            c.mode = mode(c.mode);
            c.epoch += 1;
            epoch = c.epoch;
        });
        let started = Instant::now();
        while lock(&self.live).range(..epoch).next().is_some()
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Counts a connection as live in its epoch while it exists.
struct LiveGuard {
    shared: Arc<Shared>,
    epoch: u64,
}

impl LiveGuard {
    fn new(shared: Arc<Shared>, epoch: u64) -> LiveGuard {
        *lock(&shared.live).entry(epoch).or_default() += 1;
        LiveGuard { shared, epoch }
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.shared.live);
        if let Some(n) = live.get_mut(&self.epoch) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.epoch);
            }
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of a server on 127.0.0.1:`upstream_port`, for injecting
/// faults. It runs on its own thread with its own tokio runtime, so it works from sync and async
/// tests alike; dropping it stops it.
///
/// Each connection is tunnelled to the upstream on a connection of its own. Server→client bytes
/// pass through untouched; client→server bytes are forwarded unchanged too, but parsed as HTTP/1.1
/// requests (head up to the blank line, then a `Content-Length` or `Transfer-Encoding: chunked`
/// body; pipelining works) so the proxy can count them and act between requests.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The body of the proxy's 503 responses.
const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
    <Message>Please reduce your request rate.</Message>\
    <RequestId>tickflow-fault-proxy</RequestId></Error>";

impl FaultProxy {
    /// Listens on 127.0.0.1 and a free port (already listening when this returns) and forwards
    /// to 127.0.0.1:`upstream_port`.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let (port, listener) = (1..=20)
            .find_map(|_| {
                let port = free_port();
                std::net::TcpListener::bind(("127.0.0.1", port))
                    .ok()
                    .map(|l| (port, l))
            })
            .expect("a free port for the fault proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (control, _) = watch::channel(Control {
            mode: Mode::Forward,
            epoch: 0,
        });
        let shared = Arc::new(Shared {
            upstream: upstream_port,
            control,
            requests: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            failing: AtomicUsize::new(0),
            stop_after: Mutex::new(None),
            lines: Mutex::new(Vec::new()),
            live: Mutex::new(BTreeMap::new()),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("fault proxy runtime");
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, thread_shared));
                // The listener is closed; dropping the runtime drops every connection.
                drop(runtime);
            })
            .expect("fault proxy thread");
        FaultProxy {
            port,
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Requests seen so far: forwarded, answered 503, or swallowed while hanging or going down.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests forwarded to the upstream so far.
    pub fn forwarded(&self) -> usize {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// `METHOD target` of every request seen so far, in order (e.g. `GET /bucket/key`).
    pub fn request_lines(&self) -> Vec<String> {
        lock(&self.shared.lines).clone()
    }

    /// Drops every live connection (so a client's pooled keep-alive connection dies), then
    /// answers the first request of each of the next `n` connections with `503 Service
    /// Unavailable` (an S3 `SlowDown` error, `Connection: close`) and closes it. Later
    /// connections are tunnelled again. Returns once the old connections are closed.
    pub fn fail_next(&self, n: usize) {
        self.shared.failing.store(n, Ordering::SeqCst);
        self.shared.new_epoch(|mode| mode);
    }

    /// Forwards `n` more requests, then goes down like a stopped server when the next request
    /// arrives: that request is not forwarded, every connection is closed (its own with no
    /// response) and new connections are refused.
    pub fn stop_after(&self, n: usize) {
        *lock(&self.shared.stop_after) = Some(n);
    }

    /// Goes down now: stops listening (connecting fails with "connection refused") and closes
    /// every connection. Returns once that is done. Final.
    pub fn stop(&self) {
        self.shared.go_down();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }

    /// Becomes a server that hangs: drops every live connection, then accepts new ones and
    /// reads their requests but never answers. Returns once the old connections are closed.
    pub fn hang(&self) {
        self.shared.new_epoch(|mode| match mode {
            Mode::Down => Mode::Down,
            _ => Mode::Hang,
        });
    }

    /// After [`FaultProxy::hang`]: drops the hung connections and tunnels new ones again.
    pub fn resume(&self) {
        self.shared.new_epoch(|mode| match mode {
            Mode::Hang => Mode::Forward,
            mode => mode,
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("fault proxy: cannot listen: {e}");
            return;
        }
    };
    let mut control = shared.control.subscribe();
    loop {
        tokio::select! {
            biased;
            _ = control.wait_for(|c| c.mode == Mode::Down) => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let control = shared.control.subscribe();
                    let epoch = control.borrow().epoch;
                    let guard = LiveGuard::new(shared.clone(), epoch);
                    tokio::spawn(connection(client, control, epoch, guard));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    stop_listening(listener);
}

/// Closes a listening socket so that connecting is refused at once.
///
/// Closing the descriptor is not enough: a child process forked at the same moment (tests start
/// servers and Python scripts concurrently) holds a copy of it until it execs, and the socket
/// keeps accepting connections meanwhile. `shutdown` acts on the socket itself: on Linux it stops
/// a listening socket listening, whoever holds it.
fn stop_listening(listener: tokio::net::TcpListener) {
    #[cfg(unix)]
    if let Ok(listener) = listener.into_std() {
        let socket = TcpStream::from(std::os::fd::OwnedFd::from(listener));
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
    #[cfg(not(unix))]
    drop(listener);
}

/// One client connection, until it ends or its epoch does.
async fn connection(
    client: tokio::net::TcpStream,
    mut control: watch::Receiver<Control>,
    epoch: u64,
    guard: LiveGuard,
) {
    let _ = client.set_nodelay(true);
    // Split at once: dropping an `OwnedWriteHalf` shuts the socket's write side down, so the
    // client sees the connection end even if a concurrently forked child holds a copy of it.
    let (client_read, client_write) = client.into_split();
    let shared = guard.shared.clone();
    tokio::select! {
        biased;
        _ = control.wait_for(|c| c.epoch != epoch) => {}
        _ = serve(client_read, client_write, &shared) => {}
    }
    drop(guard);
}

async fn serve(
    client_read: tokio::net::tcp::OwnedReadHalf,
    mut client_write: tokio::net::tcp::OwnedWriteHalf,
    shared: &Shared,
) -> io::Result<()> {
    let mut client_read = BufReader::new(client_read);
    if shared.mode() == Mode::Hang {
        while let Some(head) = read_head(&mut client_read).await? {
            shared.seen(&head);
            copy_body(&mut client_read, head.body, &mut tokio::io::sink()).await?;
        }
        // A hung server does not close the connection either.
        return std::future::pending::<io::Result<()>>().await;
    }
    let Some(first) = read_head(&mut client_read).await? else {
        return Ok(());
    };
    shared.seen(&first);
    if shared.take_failure() {
        return fail(client_read, client_write, &first).await;
    }
    if !shared.admit() {
        shared.go_down();
        return std::future::pending::<io::Result<()>>().await;
    }
    let upstream = tokio::net::TcpStream::connect(("127.0.0.1", shared.upstream)).await?;
    let _ = upstream.set_nodelay(true);
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let requests = async {
        let mut next = Some(first);
        loop {
            let head = match next.take() {
                Some(head) => head,
                None => match read_head(&mut client_read).await? {
                    Some(head) => {
                        shared.seen(&head);
                        if !shared.admit() {
                            shared.go_down();
                            return std::future::pending::<io::Result<()>>().await;
                        }
                        head
                    }
                    None => {
                        upstream_write.shutdown().await?;
                        return Ok(());
                    }
                },
            };
            upstream_write.write_all(&head.raw).await?;
            shared.forwarded.fetch_add(1, Ordering::SeqCst);
            copy_body(&mut client_read, head.body, &mut upstream_write).await?;
        }
    };
    let responses = async {
        tokio::io::copy(&mut upstream_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    tokio::pin!(requests, responses);
    tokio::select! {
        // The upstream closed: no more responses can come.
        result = &mut responses => result,
        // The client is done sending: deliver the rest of the responses.
        result = &mut requests => {
            result?;
            responses.await
        }
    }
}

/// Answers 503 SlowDown to a request and closes the connection.
async fn fail(
    mut client_read: BufReader<tokio::net::tcp::OwnedReadHalf>,
    mut client_write: tokio::net::tcp::OwnedWriteHalf,
    head: &Head,
) -> io::Result<()> {
    let timeout = Duration::from_secs(10);
    let _ = tokio::time::timeout(
        timeout,
        copy_body(&mut client_read, head.body, &mut tokio::io::sink()),
    )
    .await;
    let body = if head.method == "HEAD" { "" } else { SLOW_DOWN };
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        SLOW_DOWN.len()
    );
    client_write.write_all(response.as_bytes()).await?;
    client_write.shutdown().await?;
    // Wait for the client to close, so that closing never resets the connection before the
    // client has read the response.
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::io::copy(&mut client_read, &mut tokio::io::sink()),
    )
    .await;
    Ok(())
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy)]
enum Body {
    Length(u64),
    Chunked,
}

/// A request's head as received, and what the proxy needs of it.
#[derive(Debug)]
struct Head {
    raw: Vec<u8>,
    method: String,
    target: String,
    body: Body,
}

const MAX_LINE: u64 = 64 * 1024;
const MAX_HEAD: usize = 1024 * 1024;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// One line, with its line ending; empty at end of input.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await?;
    if !line.is_empty() && !line.ends_with(b"\n") {
        return Err(invalid(
            "HTTP line too long or cut off by end of input".into(),
        ));
    }
    Ok(line)
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// The next request's head, or `None` when the client closed the connection between requests.
async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let line = read_line(reader).await?;
        if line.is_empty() {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if raw.is_empty() && is_blank(&line) {
            // Blank lines before a request line are allowed (RFC 9112 §2.2).
            continue;
        }
        raw.extend_from_slice(&line);
        if is_blank(&line) {
            break;
        }
        if raw.len() > MAX_HEAD {
            return Err(invalid("HTTP request head over 1 MiB".into()));
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad HTTP request line {request_line:?}")));
    };
    let mut body = Body::Length(0);
    for header in lines {
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            body = Body::Chunked;
        } else if name.eq_ignore_ascii_case("content-length") && !matches!(body, Body::Chunked) {
            let length = value
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
            body = Body::Length(length);
        }
    }
    Ok(Some(Head {
        method: method.to_string(),
        target: target.to_string(),
        body,
        raw,
    }))
}

/// Copies exactly `n` bytes.
async fn copy_exact<R, W>(reader: &mut R, n: u64, writer: &mut W) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy(&mut (&mut *reader).take(n), writer).await?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Copies a request body, as framed by `body`, unchanged.
async fn copy_body<R, W>(reader: &mut R, body: Body, writer: &mut W) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match body {
        Body::Length(n) => copy_exact(reader, n, writer).await,
        Body::Chunked => loop {
            let line = read_line(reader).await?;
            if line.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            writer.write_all(&line).await?;
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size line {text:?}")))?;
            if size == 0 {
                // Trailer fields, up to a blank line.
                loop {
                    let line = read_line(reader).await?;
                    if line.is_empty() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    writer.write_all(&line).await?;
                    if is_blank(&line) {
                        return Ok(());
                    }
                }
            }
            // The chunk and its CRLF.
            copy_exact(reader, size + 2, writer).await?;
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader as StdBufReader};
    use std::net::TcpListener;

    /// A response as the tests' client reads it.
    #[derive(Debug)]
    struct Response {
        status: String,
        headers: String,
        body: String,
    }

    /// Reads one HTTP/1.1 message (a request or a response) from `reader`: its start line, its
    /// headers and its body (Content-Length or chunked, decoded). `None` at end of input.
    fn read_message(reader: &mut impl BufRead) -> io::Result<Option<(String, String, Vec<u8>)>> {
        let mut start = String::new();
        if reader.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        let mut headers = String::new();
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if line.trim().is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().expect("content-length");
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            headers.push_str(&line);
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .expect("chunk size");
                let mut chunk = vec![0; size + 2];
                if size == 0 {
                    // Trailer fields, up to a blank line.
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                reader.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        Ok(Some((start.trim_end().to_string(), headers, body)))
    }

    /// An upstream that answers every request `200 OK` with `METHOD target BODY_LENGTH` as the
    /// body, keeping connections alive.
    fn upstream() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let port = listener.local_addr().expect("upstream address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().expect("clone stream");
                    let mut reader = StdBufReader::new(stream);
                    while let Ok(Some((start, _, body))) = read_message(&mut reader) {
                        let mut parts = start.split_whitespace();
                        let method = parts.next().unwrap_or("");
                        let target = parts.next().unwrap_or("");
                        let answer = format!("{method} {target} {}", body.len());
                        let response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        if writer.write_all(response.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    /// A keep-alive client connection.
    struct Client {
        writer: TcpStream,
        reader: StdBufReader<TcpStream>,
    }

    impl Client {
        fn connect(port: u16) -> Client {
            let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            Client {
                writer: stream.try_clone().expect("clone stream"),
                reader: StdBufReader::new(stream),
            }
        }

        fn send(&mut self, raw: &str) -> io::Result<()> {
            self.writer.write_all(raw.as_bytes())
        }

        fn receive(&mut self) -> io::Result<Response> {
            match read_message(&mut self.reader)? {
                Some((status, headers, body)) => Ok(Response {
                    status,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                }),
                None => Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }

        fn request(&mut self, raw: &str) -> io::Result<Response> {
            self.send(raw)?;
            self.receive()
        }

        fn get(&mut self, path: &str) -> io::Result<Response> {
            self.request(&format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"))
        }
    }

    #[test]
    fn proxy_forwards_and_counts_requests() {
        let proxy = FaultProxy::start(upstream());
        let mut client = Client::connect(proxy.port());
        let r = client.get("/a?x=1").expect("GET through the proxy");
        assert_eq!(
            (r.status.as_str(), r.body.as_str()),
            ("HTTP/1.1 200 OK", "GET /a?x=1 0")
        );
        let r = client
            .request("PUT /b HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
            .expect("PUT with a body");
        assert_eq!(r.body, "PUT /b 5");
        let chunked = "POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n";
        assert_eq!(
            client.request(chunked).expect("chunked POST").body,
            "POST /c 8"
        );
        // Two pipelined requests in one write.
        client
            .send("HEAD /d HTTP/1.1\r\nHost: t\r\n\r\nDELETE /e HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("pipelined requests");
        assert_eq!(client.receive().expect("first").body, "HEAD /d 0");
        assert_eq!(client.receive().expect("second").body, "DELETE /e 0");
        // A second connection.
        assert_eq!(
            Client::connect(proxy.port()).get("/f").expect("GET").body,
            "GET /f 0"
        );
        assert_eq!(proxy.requests(), 6);
        assert_eq!(proxy.forwarded(), 6);
        assert_eq!(
            proxy.request_lines(),
            [
                "GET /a?x=1",
                "PUT /b",
                "POST /c",
                "HEAD /d",
                "DELETE /e",
                "GET /f"
            ]
        );
        assert_eq!(
            proxy.endpoint(),
            format!("http://127.0.0.1:{}", proxy.port())
        );
    }

    #[test]
    fn proxy_fail_next_answers_503_then_forwards_again() {
        let proxy = FaultProxy::start(upstream());
        let mut pooled = Client::connect(proxy.port());
        assert_eq!(pooled.get("/1").expect("before").status, "HTTP/1.1 200 OK");
        proxy.fail_next(2);
        assert!(
            pooled.get("/pooled").is_err(),
            "fail_next drops live connections"
        );
        for i in 0..2 {
            let mut client = Client::connect(proxy.port());
            let r = client
                .request("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
                .expect("a 503 response");
            assert_eq!(
                r.status, "HTTP/1.1 503 Service Unavailable",
                "connection {i}"
            );
            assert!(r.headers.contains("Connection: close"), "{}", r.headers);
            assert!(r.body.contains("<Code>SlowDown</Code>"), "{}", r.body);
            assert!(
                client.get("/again").is_err(),
                "the 503 closes the connection"
            );
        }
        let mut client = Client::connect(proxy.port());
        assert_eq!(client.get("/2").expect("after").body, "GET /2 0");
        assert_eq!(client.get("/3").expect("keep-alive").body, "GET /3 0");
        assert_eq!(proxy.requests(), 5);
        assert_eq!(proxy.forwarded(), 3);
    }

    #[test]
    fn proxy_stop_after_refuses_connections() {
        let proxy = FaultProxy::start(upstream());
        let mut client = Client::connect(proxy.port());
        proxy.stop_after(1);
        assert_eq!(client.get("/1").expect("forwarded").body, "GET /1 0");
        assert!(
            client.get("/2").is_err(),
            "the request after the last is not answered"
        );
        let refused = TcpStream::connect(("127.0.0.1", proxy.port())).expect_err("refused");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!((proxy.requests(), proxy.forwarded()), (2, 1));
    }

    #[test]
    fn proxy_stop_closes_connections_and_refuses_new_ones() {
        let proxy = FaultProxy::start(upstream());
        let mut client = Client::connect(proxy.port());
        assert_eq!(client.get("/1").expect("forwarded").body, "GET /1 0");
        proxy.stop();
        assert!(client.get("/2").is_err());
        let refused = TcpStream::connect(("127.0.0.1", proxy.port())).expect_err("refused");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn proxy_hang_accepts_but_never_answers() {
        let proxy = FaultProxy::start(upstream());
        let mut before = Client::connect(proxy.port());
        assert_eq!(before.get("/1").expect("forwarded").body, "GET /1 0");
        proxy.hang();
        assert!(before.get("/2").is_err(), "hang drops live connections");
        let mut hung = Client::connect(proxy.port());
        hung.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let err = hung.get("/3").expect_err("no answer");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        assert_eq!(proxy.requests(), 2, "{:?}", proxy.request_lines());
        assert_eq!(proxy.forwarded(), 1);
        proxy.resume();
        assert!(hung.get("/4").is_err(), "resume drops the hung connections");
        let mut after = Client::connect(proxy.port());
        assert_eq!(after.get("/5").expect("forwarded again").body, "GET /5 0");
    }

    #[test]
    fn proxy_without_upstream_closes_connections() {
        let port = free_port();
        let proxy = FaultProxy::start(port);
        assert!(Client::connect(proxy.port()).get("/").is_err());
        assert_eq!((proxy.requests(), proxy.forwarded()), (1, 0));
    }

    #[test]
    fn access_log_lines_are_parsed() {
        let log = "WARNING: This is a development server.\n\
            127.0.0.1 - - [24/Nov/2026 06:11:05] \"PUT /b/x/y.bin HTTP/1.1\" 200 -\n\
            127.0.0.1 - - [24/Nov/2026 06:11:05] \"\u{1b}[35m\u{1b}[1mGET /b/x/y.bin HTTP/1.1\u{1b}[0m\" 206 -\n\
            127.0.0.1 - - [24/Nov/2026:06:11:39 +0000] \"PUT /devstoreaccount1/c?restype=container HTTP/1.1\" 201 -\n\
            127.0.0.1 - - [24/Nov/2026 06:11:05] \"GET /__tickflow_ready__ HTTP/1.1\" 404 -\n";
        assert_eq!(count_requests(log, "PUT", "/b/"), 1);
        assert_eq!(count_requests(log, "GET", "/b/x/y.bin"), 1);
        assert_eq!(count_requests(log, "PUT", "restype=container"), 1);
        assert_eq!(count_requests(log, "GET", "/"), 1);
    }

    #[test]
    fn s3_server_counts_requests() {
        let s3 = S3Server::start();
        s3.create_bucket("tickflow-test");
        s3.put_object("tickflow-test", "dir/a.bin", b"hello");
        assert_eq!(s3.requests("PUT", "/tickflow-test"), 2, "{}", s3.log());
        assert_eq!(s3.requests("PUT", "/tickflow-test/dir/a.bin"), 1);
        assert_eq!(s3.requests("GET", "/tickflow-test"), 0);
        // Through the proxy (unsigned, so moto answers 403; it is counted all the same).
        let proxy = FaultProxy::start(s3.port());
        let r = Client::connect(proxy.port())
            .get("/tickflow-test/dir/a.bin")
            .expect("moto answers through the proxy");
        assert!(r.status.starts_with("HTTP/1.1 "), "{r:?}");
        assert_eq!(
            s3.requests("GET", "/tickflow-test/dir/a.bin"),
            1,
            "{}",
            s3.log()
        );
        assert_eq!(proxy.requests(), 1);
        let mut s3 = s3;
        s3.stop();
        assert!(TcpStream::connect(("127.0.0.1", s3.port())).is_err());
    }

    #[test]
    fn azurite_counts_requests() {
        let azurite = Azurite::start();
        assert_eq!(
            azurite.endpoint(),
            format!("http://127.0.0.1:{}/devstoreaccount1", azurite.port())
        );
        azurite.create_container("data");
        azurite.put_blob("data", "x/y.bin", b"abc");
        assert_eq!(
            azurite.requests("PUT", "/devstoreaccount1/data"),
            2,
            "{}",
            azurite.log()
        );
        assert_eq!(azurite.requests("PUT", "restype=container"), 1);
        assert_eq!(azurite.requests("GET", "/devstoreaccount1"), 0);
        let r = Client::connect(azurite.port())
            .get("/devstoreaccount1/data/x/y.bin")
            .expect("Azurite answers");
        assert!(r.status.starts_with("HTTP/1.1 "), "{r:?}");
        assert_eq!(azurite.requests("GET", "/devstoreaccount1/data/x/y.bin"), 1);
    }
}
