//! `depesha serve`: configuration from a TOML file and `DEPESHA_*` variables, refusal
//! to start without a token, and signing keys created once and kept.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_depesha");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minimal HTTP/1.1 GET; returns (status, body).
fn get(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    send(port, "GET", path, token, "")
}

/// A minimal HTTP/1.1 request; returns (status, body).
fn send(port: u16, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn start(config: &Path, port: u16) -> Server {
    start_with(config, port, &[])
}

/// `depesha serve --config <config>` with more `DEPESHA_*` variables.
fn start_with(config: &Path, port: u16, variables: &[(&str, &str)]) -> Server {
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .envs(variables.iter().copied())
        .env("DEPESHA_LISTEN", format!("127.0.0.1:{port}"))
        // Variables that are not settings are left alone, not refused.
        .env("DEPESHA_LOG", "debug")
        .env("DEPESHA_TEST_DATABASE_URL", "postgres://unused")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("depesha starts");
    Server(child)
}

fn wait_for_keys(port: u16, token: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some((200, body)) = get(port, "/v2/keys", token) {
            return body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not answer GET /v2/keys in time");
}

#[test]
fn serve_refuses_to_start_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(BIN)
        .arg("serve")
        .env("DEPESHA_DATA_DIR", dir.path())
        .env_remove("DEPESHA_TOKEN")
        .output()
        .expect("depesha runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no token configured"), "{stderr}");
}

#[test]
fn serve_rejects_a_bad_setting_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (variable, value, named) in [
        ("DEPESHA_LOG_RETENTION", "a week", "log_retention"),
        ("DEPESHA_CHECKPOINT_INTERVAL", "0s", "checkpoint_interval"),
        (
            "DEPESHA_ALLOW_DESTINATIONS",
            "10.1.0.0/16, http://x/",
            "allow_destinations",
        ),
    ] {
        let output = Command::new(BIN)
            .arg("serve")
            .env("DEPESHA_DATA_DIR", dir.path())
            .env("DEPESHA_TOKEN", "t")
            .env(variable, value)
            .output()
            .expect("depesha runs");
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn serve_reads_users_from_toml_and_keeps_their_keys_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("depesha.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlog_retention = \"3d\"\n\n[[users]]\nname = \"shop\"\ntoken = \"shop-token\"\n\n[[users]]\nname = \"billing\"\ntoken = \"billing-token\"\n",
            data.display().to_string()
        ),
    )
    .expect("config written");

    let port = free_port();
    let first = {
        let _server = start(&config, port);
        let shop = wait_for_keys(port, "shop-token");
        let billing = wait_for_keys(port, "billing-token");
        assert_ne!(shop, billing, "every user has keys of its own");
        assert!(shop.contains("\"current\":\"sig_"), "{shop}");
        assert_eq!(get(port, "/v2/keys", "nobody").map(|(s, _)| s), Some(401));
        shop
    };
    let port = free_port();
    let _server = start(&config, port);
    assert_eq!(
        wait_for_keys(port, "shop-token"),
        first,
        "keys are created once and kept"
    );
}

/// Accepts one connection on `listener` in the background, answers 200 and hands
/// over the request's head.
fn receive_one_request(listener: TcpListener) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
    });
    rx
}

/// `serve` delivers to public addresses only unless `allow_destinations` lists more
/// (a TOML list, or a comma-separated `DEPESHA_ALLOW_DESTINATIONS`).
#[test]
fn serve_refuses_loopback_destinations_unless_allow_destinations_lists_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
    let target = format!("http://{}/hook", receiver.local_addr().expect("address"));
    let publish = format!("/v2/publish/{target}");
    let config = |name: &str, extra: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        let data = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "data_dir = {:?}\ntoken = \"t\"\n{extra}",
                data.display().to_string()
            ),
        )
        .expect("config written");
        path
    };

    let strict = config("strict", "");
    let port = free_port();
    {
        let _server = start(&strict, port);
        wait_for_keys(port, "t");
        let (status, body) = send(port, "POST", &publish, "t", "x").expect("an answer");
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains(
                "destination 127.0.0.1 is not allowed: loopback address; see allow_destinations"
            ),
            "{body}"
        );
    }

    let from_env = config("env", "");
    let port = free_port();
    {
        let _server = start_with(
            &from_env,
            port,
            &[(
                "DEPESHA_ALLOW_DESTINATIONS",
                "internal.example, 127.0.0.1/32",
            )],
        );
        wait_for_keys(port, "t");
        // Delayed an hour: accepted is all this part checks.
        let path = "/v2/publish/http://127.0.0.1:9/unused?upstash-delay=1h";
        let (status, body) = send(port, "POST", path, "t", "x").expect("an answer");
        assert!((200..300).contains(&status), "{status} {body}");
    }

    let listed = config(
        "listed",
        "allow_destinations = [\"10.1.0.0/16\", \"127.0.0.1/32\"]\n",
    );
    let port = free_port();
    let _server = start(&listed, port);
    wait_for_keys(port, "t");
    let delivered = receive_one_request(receiver);
    let (status, body) = send(port, "POST", &publish, "t", "x").expect("an answer");
    assert!((200..300).contains(&status), "{status} {body}");
    let head = delivered
        .recv_timeout(Duration::from_secs(30))
        .expect("the message is delivered");
    assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
}

/// A stop by SIGTERM closes the store cleanly, so the next start needs no repair (a
/// repair reads the whole file and makes restarts slow on a large data dir).
#[test]
fn a_sigterm_stop_closes_the_store_so_the_next_start_needs_no_repair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = |n: u32| dir.path().join(format!("server-{n}.log"));
    let start_logged = |n: u32, port: u16| {
        let file = std::fs::File::create(log(n)).expect("log file");
        let child = Command::new(BIN)
            .arg("serve")
            .env("DEPESHA_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPESHA_DATA_DIR", dir.path().join("data"))
            .env("DEPESHA_TOKEN", "t")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("depesha starts");
        Server(child)
    };

    let port = free_port();
    let mut first = start_logged(1, port);
    wait_for_keys(port, "t");
    let status = Command::new("kill")
        .args(["-TERM", &first.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exited = first.0.wait().expect("the server exits");
    assert!(
        exited.success(),
        "a SIGTERM stop is a clean exit: {exited:?}"
    );

    let port = free_port();
    let _second = start_logged(2, port);
    wait_for_keys(port, "t");
    let second_log = std::fs::read_to_string(log(2)).expect("log");
    assert!(
        !second_log.contains("not closed cleanly"),
        "the restart had to repair the store:\n{second_log}"
    );
}

/// Every delivery in flight holds a socket: a server started under a low soft limit
/// on open files raises it to the hard limit, which is the administrator's.
#[cfg(target_os = "linux")]
#[test]
fn the_server_raises_its_open_file_limit_to_the_hard_limit() {
    let limits = |pid: u32| -> (String, String) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .expect("an open-files line")
            .to_string();
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[3].to_string(), fields[4].to_string())
    };
    let (_, hard) = limits(std::process::id());
    assert_ne!(hard, "256", "the test needs a hard limit above 256");

    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -Sn 256 && exec "$0" serve"#)
        .arg(BIN)
        .env("DEPESHA_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPESHA_DATA_DIR", dir.path().join("data"))
        .env("DEPESHA_TOKEN", "t")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("depesha starts");
    let server = Server(child);
    wait_for_keys(port, "t");
    let (soft, hard_now) = limits(server.0.id());
    assert_eq!(
        soft, hard_now,
        "soft limit raised from 256 to the hard limit"
    );
    assert_eq!(hard_now, hard);
}
