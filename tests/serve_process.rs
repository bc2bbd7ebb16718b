//! The `vigil` binary as an operator runs it: `serve` on free loopback ports, the `cameras` CLI
//! against it, `/healthz` and `/metrics` over HTTP, `kill -9` and restart with the data intact,
//! SIGTERM for a clean stop, and bad configuration refused with a message naming the field.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vigil");

struct Serve {
    child: Child,
    grpc: String,
    http: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vigil serve` on port 0 and reads the bound addresses from its JSON log.
fn serve(data_dir: &Path) -> Serve {
    start(data_dir, "serve", &[])
}

/// Starts `vigil SUBCOMMAND` (serve or demo) on port 0 with `extra` arguments.
#[allow(clippy::zombie_processes)] // the child is waited for by `Serve::drop`, or killed and waited below
fn start(data_dir: &Path, subcommand: &str, extra: &[&str]) -> Serve {
    let mut child = Command::new(BIN)
        .arg(subcommand)
        .args(extra)
        .args([
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["fields"]["message"] == "vigil is serving" {
            let grpc = v["fields"]["grpc_addr"].as_str().unwrap().to_string();
            let http = v["fields"]["http_addr"].as_str().unwrap().to_string();
            assert!(
                !grpc.ends_with(":0") && !http.ends_with(":0"),
                "the bound ports are logged: {line}"
            );
            return Serve { child, grpc, http };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("vigil {subcommand} did not log its addresses within 20 s");
}

fn cli(server: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("cameras")
        .arg("--server")
        .arg(server)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn camera_survives_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(dir.path());
    let (ok, out, err) = cli(
        &first.grpc,
        &[
            "add",
            "--id",
            "kill-test",
            "--url",
            "rtsp://192.0.2.20/live",
            "--name",
            "Kill test",
        ],
    );
    assert!(ok, "cameras add failed: {err}");
    assert!(out.contains("kill-test"), "{out}");
    let (ok, out, _) = cli(&first.grpc, &["list"]);
    assert!(ok && out.contains("kill-test"), "{out}");

    assert!(http_get(&first.http, "/healthz").contains("200 OK"));
    let metrics = http_get(&first.http, "/metrics");
    assert!(metrics.contains("vigil_up 1"), "{metrics}");

    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    let mut second = serve(dir.path());
    let (ok, out, err) = cli(&second.grpc, &["show", "kill-test"]);
    assert!(ok, "camera lost after kill -9: {err}");
    assert!(
        out.contains("Kill test") && out.contains("rtsp://192.0.2.20/live"),
        "{out}"
    );
    let (ok, _, err) = cli(&second.grpc, &["show", "missing"]);
    assert!(!ok && err.contains("camera missing not found"), "{err}");
    let (ok, _, err) = cli(&second.grpc, &["add", "--id", "bad", "--url", "http://x/y"]);
    assert!(!ok && err.contains("camera.url"), "{err}");

    // SIGTERM stops it cleanly and promptly.
    let started = Instant::now();
    Command::new("kill")
        .arg("-TERM")
        .arg(second.child.id().to_string())
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = second.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "vigil did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn demo_registers_its_camera_through_the_api_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/camera.toml");
    let url = "rtsp://127.0.0.1:8554/demo-test";
    for round in 0..2 {
        let demo = start(dir.path(), "demo", &["--camera-file", file, "--url", url]);
        // The camera is registered right after the listeners are up.
        let deadline = Instant::now() + Duration::from_secs(10);
        let out = loop {
            let (ok, out, err) = cli(&demo.grpc, &["show", "demo-campus"]);
            if ok {
                break out;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: demo camera missing: {err}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(out.contains(url) && out.contains("lawn-intrusion"), "{out}");
        let (ok, list, _) = cli(&demo.grpc, &["list"]);
        assert!(ok && list.lines().count() == 1, "round {round}: {list}");
    }
}

#[test]
fn bad_configuration_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &str)] = &[
        ("unknown field", &["--config", "CFG"], "grpc_adress"),
        (
            "bad address flag",
            &["--grpc-addr", "not-an-address"],
            "server.grpc_addr",
        ),
        (
            "missing config file",
            &["--config", "/nonexistent/vigil.toml"],
            "/nonexistent/vigil.toml",
        ),
    ];
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(&cfg, "[server]\ngrpc_adress = \"127.0.0.1:1\"\n").unwrap();
    for (what, args, needle) in cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "CFG" {
                    cfg.display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let out = Command::new(BIN)
            .arg("serve")
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path().join("d"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: must exit non-zero");
        assert!(stderr.contains(needle), "{what}: {stderr}");
        assert!(!dir.path().join("d").exists(), "{what}: nothing may start");
    }
    let out = Command::new(BIN)
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .env("VIGIL_HTTP_ADDR", "nope")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server.http_addr"),
        "the environment overrides are validated too"
    );
}
