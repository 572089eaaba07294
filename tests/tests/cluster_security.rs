//! Who may use a tickflow cluster (issue 21), probed with the real processes: the ports the
//! servers listen on by default, and the shared-secret token (`--auth-token-file`) checked by the
//! scheduler (gRPC, REST, Flight SQL through a real ADBC client) and the executors (Flight).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_flight::Ticket;
use arrow_flight::flight_service_client::FlightServiceClient;
use ballista_core::serde::protobuf::GetJobStatusParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use tickflow_tests::cluster::{Cluster, binary, free_port};
use tonic::Code;

/// A server process killed when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[String], log: &Path) -> Server {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Server(
        Command::new(binary(program))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}")),
    )
}

/// Waits until something accepts connections on 127.0.0.1:`port` (a process that exits first
/// fails the test with its log).
fn wait_listening(server: &mut Server, port: u16, log: &Path) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "the server exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing listens on port {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether a server holds `port` on every interface. A socket listening on 0.0.0.0:PORT keeps
/// any other address from binding PORT; one on 127.0.0.1:PORT leaves 127.0.0.2:PORT free.
fn listens_on_every_interface(port: u16) -> bool {
    TcpListener::bind(("127.0.0.2", port)).is_err()
}

#[test]
fn the_servers_listen_on_loopback_by_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scheduler_log = dir.path().join("scheduler.log");
    let mut scheduler = spawn(
        "tickflow-scheduler",
        &["--bind-port".into(), port.to_string()],
        &scheduler_log,
    );
    wait_listening(&mut scheduler, port, &scheduler_log);
    assert!(
        !listens_on_every_interface(port),
        "tickflow-scheduler listens on every interface by default"
    );

    let (flight, health) = (free_port(), free_port());
    let executor_log = dir.path().join("executor.log");
    let mut executor = spawn(
        "tickflow-executor",
        &[
            "--scheduler-port".into(),
            port.to_string(),
            "--bind-port".into(),
            flight.to_string(),
            "--bind-grpc-port".into(),
            free_port().to_string(),
            "--bind-health-port".into(),
            health.to_string(),
            "--work-dir".into(),
            dir.path().display().to_string(),
        ],
        &executor_log,
    );
    wait_listening(&mut executor, flight, &executor_log);
    wait_listening(&mut executor, health, &executor_log);
    assert!(
        !listens_on_every_interface(flight),
        "tickflow-executor's Flight port listens on every interface by default"
    );
    assert!(
        !listens_on_every_interface(health),
        "tickflow-executor's health port listens on every interface by default"
    );
}

/// Runs a server that should refuse to start; returns its output (the test fails if it is
/// still running after a minute).
fn refused_start(program: &str, args: &[&str]) -> String {
    let mut child = Command::new(binary(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} started, it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "{program} {args:?} exited 0");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_open_port_needs_a_token_or_an_explicit_flag() {
    let port = free_port().to_string();
    let out = refused_start(
        "tickflow-scheduler",
        &["--bind-host", "0.0.0.0", "--bind-port", &port],
    );
    assert!(
        out.contains("--auth-token-file") && out.contains("--allow-unauthenticated"),
        "{out}"
    );
    let out = refused_start(
        "tickflow-executor",
        &[
            "--bind-host",
            "0.0.0.0",
            "--scheduler-port",
            &port,
            "--bind-port",
            &free_port().to_string(),
        ],
    );
    assert!(out.contains("--auth-token-file"), "{out}");

    // A token file that cannot be used is an error naming it.
    let dir = tempfile::tempdir().expect("temp dir");
    let short = dir.path().join("short-token");
    std::fs::write(&short, "abc\n").expect("write");
    let short = short.display().to_string();
    let out = refused_start(
        "tickflow-scheduler",
        &["--bind-port", &port, "--auth-token-file", &short],
    );
    assert!(
        out.contains(&short) && out.contains("fewer than 16"),
        "{out}"
    );
}

/// A cluster whose processes share a token, its token file and a wrong one, and a Parquet table
/// spread over 7 files (so a GROUP BY shuffles between the two executors).
struct Secured {
    cluster: Cluster,
    token: String,
    token_file: String,
    wrong_file: String,
    data: String,
    dir: tempfile::TempDir,
}

fn secured_cluster() -> Secured {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "a-cluster-secret-0123456789abcdef".to_string();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write the token");
    let wrong_file = dir.path().join("wrong");
    std::fs::write(&wrong_file, "not-the-cluster-secret-0123456789").expect("write");
    let data = dir.path().join("data");
    let data = data.display().to_string();
    tickflow_tests::cli::tickflow(
        &[
            "sql",
            "-c",
            &format!(
                "COPY (SELECT v % 7 AS k, v FROM generate_series(1, 7000) t(v)) TO '{data}/' \
                 STORED AS PARQUET PARTITIONED BY (k)"
            ),
        ],
        dir.path(),
        &[],
    );
    let token_file = token_file.display().to_string();
    let flags = ["--auth-token-file", token_file.as_str()];
    let cluster = Cluster::start_with(2, &flags, &flags);
    Secured {
        cluster,
        token,
        token_file,
        wrong_file: wrong_file.display().to_string(),
        data,
        dir,
    }
}

fn run_tickflow(args: &[&str], dir: &Path) -> Output {
    Command::new(binary("tickflow"))
        .args(args)
        .current_dir(dir)
        .env("TICKFLOW_CATALOG", dir.join("catalog.json"))
        .env_remove("TICKFLOW_AUTH_TOKEN_FILE")
        .output()
        .expect("run tickflow")
}

#[test]
fn a_cluster_with_a_token_serves_only_those_who_have_it() {
    let s = secured_cluster();
    let cluster = &s.cluster;
    let query = format!(
        "SELECT k, count(*) AS n, sum(v) AS total FROM '{}/' GROUP BY k ORDER BY k",
        s.data
    );

    // `tickflow --cluster`: no token, a wrong one, the right one.
    let out = run_tickflow(
        &["--cluster", &cluster.url, "sql", "-c", &query],
        s.dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no token, yet it ran");
    assert!(err.contains("requires the cluster's token"), "{err}");
    let out = run_tickflow(
        &[
            "--cluster",
            &cluster.url,
            "--auth-token-file",
            &s.wrong_file,
            "sql",
            "-c",
            &query,
        ],
        s.dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong token, yet it ran");
    assert!(err.contains("refused this client"), "{err}");
    let out = run_tickflow(
        &[
            "--cluster",
            &cluster.url,
            "--auth-token-file",
            &s.token_file,
            "--partitions",
            "4",
            "sql",
            "-c",
            &query,
        ],
        s.dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the right token was refused:\n{stdout}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    // k = 0: 7, 14, .., 7000 (1000 rows, sum 7·(1+..+1000) = 3503500); k = 6: 6, 13, .., 6999.
    assert!(stdout.contains("| 0 | 1000 | 3503500 |"), "{stdout}");
    assert!(stdout.contains("| 6 | 1000 | 3502500 |"), "{stdout}");
    assert!(
        cluster.tasks_run(0) > 0 && cluster.tasks_run(1) > 0,
        "both executors (and the shuffle between them) should have worked\n{}",
        cluster.logs()
    );

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        // The scheduler's gRPC service, as an executor or a client would call it.
        let address = format!("http://127.0.0.1:{}", cluster.port);
        let probe = || GetJobStatusParams {
            job_id: "no-such-job".to_string(),
        };
        let mut scheduler = SchedulerGrpcClient::connect(address.clone())
            .await
            .expect("connect to the scheduler");
        let status = scheduler
            .get_job_status(probe())
            .await
            .expect_err("no token");
        assert_eq!(status.code(), Code::Unauthenticated, "{status}");
        let mut wrong = tonic::Request::new(probe());
        wrong.metadata_mut().insert(
            "authorization",
            "Bearer not-the-cluster-secret-0123"
                .parse()
                .expect("header"),
        );
        let status = scheduler
            .get_job_status(wrong)
            .await
            .expect_err("wrong token");
        assert_eq!(status.code(), Code::Unauthenticated, "{status}");
        let mut right = tonic::Request::new(probe());
        right.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", s.token).parse().expect("header"),
        );
        match scheduler.get_job_status(right).await {
            Ok(_) => {}
            Err(status) => assert_ne!(status.code(), Code::Unauthenticated, "{status}"),
        }

        // Each executor's Flight service (shuffle data and results).
        for port in &cluster.executor_ports {
            let channel =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .expect("endpoint")
                    .connect()
                    .await
                    .expect("connect to an executor");
            let mut flight = FlightServiceClient::new(channel);
            let ticket = || Ticket {
                ticket: b"not a ticket".to_vec().into(),
            };
            let status = flight.do_get(ticket()).await.expect_err("no token");
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "executor {port}: {status}"
            );
            let mut right = tonic::Request::new(ticket());
            right.metadata_mut().insert(
                "authorization",
                format!("Bearer {}", s.token).parse().expect("header"),
            );
            let status = flight.do_get(right).await.expect_err("not a ticket");
            assert_ne!(
                status.code(),
                Code::Unauthenticated,
                "executor {port}: {status}"
            );
        }
    });

    // REST: the API needs the token, the probes do not.
    let response = http_get(cluster.port, "/api/jobs", None);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let response = http_get(cluster.port, "/api/jobs", Some(&s.token));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = http_get(cluster.port, "/readyz", None);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// The raw HTTP/1.1 response to `GET path` on 127.0.0.1:`port`.
fn http_get(port: u16, path: &str, token: Option<&str>) -> String {
    use std::io::Read;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// Runs `statements` through ADBC's Flight SQL driver, sending `authorization` if given;
/// returns one JSON value per statement.
fn adbc(port: u16, authorization: Option<&str>, statements: &[String]) -> Vec<serde_json::Value> {
    let python = std::env::var("TICKFLOW_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/reference/flight_sql_statements.py"
    );
    let mut command = Command::new(&python);
    command.arg(script).arg(format!("grpc://127.0.0.1:{port}"));
    if let Some(value) = authorization {
        command.arg(value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} (see scripts/test.sh): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(statements).expect("json").as_bytes())
        .expect("send the statements");
    let out = child.wait_with_output().expect("ADBC client output");
    assert!(
        out.status.success(),
        "the ADBC client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per statement"))
        .collect()
}

/// A Flight SQL client of a cluster with a token authenticates with the Flight handshake, the
/// token as its password, and gets a session of its own: settings, tables and views made by one
/// connection are invisible to another.
#[test]
fn flight_sql_clients_need_the_token_and_get_their_own_sessions() {
    let s = secured_cluster();
    let port = s.cluster.port;
    let statements = [format!(
        "SELECT count(*) AS n, sum(v) AS total FROM '{}/'",
        s.data
    )];
    let wrong = "password=not-the-cluster-secret-0123".to_string();
    let cluster_bearer = format!("Bearer {}", s.token);
    for (why, authorization, expected) in [
        ("no token", None, "unauthenticated"),
        ("a wrong token", Some(wrong.as_str()), "unauthenticated"),
        (
            "a wrong bearer",
            Some("Bearer not-the-cluster-secret-0123"),
            "unauthenticated",
        ),
        // The token itself, without a handshake: no session of its own, so refused.
        ("no handshake", Some(cluster_bearer.as_str()), "handshake"),
    ] {
        let answers = adbc(port, authorization, &statements);
        let error = answers[0]["error"].as_str().unwrap_or_default();
        assert!(
            error.to_lowercase().contains(expected),
            "{why}: {:?}",
            answers[0]
        );
    }
    let password = format!("password={}", s.token);
    let answers = adbc(port, Some(&password), &statements);
    assert_eq!(
        answers[0]["rows"],
        serde_json::json!([["7000", "24503500"]]),
        "{:?}\n{}",
        answers[0],
        s.cluster.logs()
    );

    // Connection A makes a view and changes a setting; connection B sees neither.
    let a = adbc(
        port,
        Some(&password),
        &[
            "CREATE VIEW a_only AS SELECT 1 AS x".to_string(),
            "SET datafusion.execution.batch_size = 1234".to_string(),
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'a_only'"
                .to_string(),
            "SELECT value FROM information_schema.df_settings \
             WHERE name = 'datafusion.execution.batch_size'"
                .to_string(),
        ],
    );
    assert_eq!(
        a[2]["rows"],
        serde_json::json!([["1"]]),
        "A sees its view: {a:?}"
    );
    assert_eq!(
        a[3]["rows"],
        serde_json::json!([["1234"]]),
        "A sees its setting: {a:?}"
    );
    let b = adbc(
        port,
        Some(&password),
        &[
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'a_only'"
                .to_string(),
            "SELECT value FROM information_schema.df_settings \
             WHERE name = 'datafusion.execution.batch_size'"
                .to_string(),
        ],
    );
    assert_eq!(
        b[0]["rows"],
        serde_json::json!([["0"]]),
        "B sees A's view: {b:?}"
    );
    assert_ne!(
        b[1]["rows"],
        serde_json::json!([["1234"]]),
        "B sees A's setting: {b:?}"
    );
}

/// Servers started with `--allow-path` read and write under it only: a table, a query by path and
/// a COPY elsewhere are refused (with an error naming the location for the table and the COPY),
/// and nothing is written; inside the root everything works. Through Flight SQL (planned and run
/// on the servers) and through `tickflow --cluster` (planned by the client, run on the servers).
#[test]
fn servers_read_and_write_only_under_the_allowed_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let allowed = dir.path().join("allowed");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&allowed).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(allowed.join("in.csv"), "a\n1\n2\n").expect("write");
    std::fs::write(outside.join("secret.csv"), "s\nhunter2\n").expect("write");
    let (allowed, outside) = (allowed.display().to_string(), outside.display().to_string());
    let flags = ["--allow-path", allowed.as_str()];
    let cluster = Cluster::start_with(2, &flags, &flags);

    let statements = [
        format!("SELECT sum(a) AS total FROM '{allowed}/in.csv'"),
        format!("CREATE EXTERNAL TABLE secret STORED AS CSV LOCATION '{outside}/secret.csv'"),
        format!("SELECT * FROM '{outside}/secret.csv'"),
        // A job pointing the servers' S3 client at a host of its choice (a cloud metadata
        // service, an internal host).
        "SET s3.endpoint = 'http://169.254.169.254'".to_string(),
        "CREATE EXTERNAL TABLE remote STORED AS PARQUET LOCATION 's3://bucket/t/'".to_string(),
    ];
    let answers = adbc(cluster.port, None, &statements);
    assert_eq!(
        answers[0]["rows"],
        serde_json::json!([["3"]]),
        "{:?}",
        answers[0]
    );
    let error = |i: usize| answers[i]["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error(1).contains(&format!("{outside}/secret.csv")) && error(1).contains("--allow-path"),
        "CREATE EXTERNAL TABLE outside: {:?}",
        answers[1]
    );
    assert!(
        answers[2].get("rows").is_none() && !answers[2].to_string().contains("hunter2"),
        "a query by path outside: {:?}",
        answers[2]
    );
    assert!(
        error(4).contains("s3.endpoint = 'http://169.254.169.254'"),
        "a job's endpoint: {:?} (SET: {:?})",
        answers[4],
        answers[3]
    );

    // `tickflow --cluster` (Ballista's Flight SQL service runs no COPY): the client plans, the
    // servers refuse a write outside and make one inside.
    let copied = format!("{outside}/copied-by-cli/");
    let out = run_tickflow(
        &[
            "--cluster",
            &cluster.url,
            "sql",
            "-c",
            &format!("COPY (SELECT 1 AS a) TO '{copied}' STORED AS PARQUET"),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "COPY outside ran");
    assert!(
        err.contains(&copied) && err.contains("--allow-path"),
        "{err}"
    );
    let written: Vec<_> = std::fs::read_dir(&outside)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(written, ["secret.csv"], "something was written outside");
    let inside = format!("{allowed}/copied/");
    let out = run_tickflow(
        &[
            "--cluster",
            &cluster.url,
            "sql",
            "-c",
            &format!("COPY (SELECT 1 AS a) TO '{inside}' STORED AS PARQUET"),
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "COPY inside failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    assert!(
        std::fs::read_dir(&inside)
            .expect("COPY inside wrote its directory")
            .count()
            > 0,
        "COPY inside wrote no file"
    );
}
