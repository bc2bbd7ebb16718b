//! The `vigil incidents` command line against a real server: `watch --json` prints one object per
//! committed event and resumes from its last sequence after the server restarts (no gap, no
//! duplicate), and `ack`, `note`, `show`, `list` work by incident id.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use vigil::config::{Config, Overrides};
use vigil::incidents::EngineToken;
use vigil::rules::RuleEvent;
use vigil::rules::spec::{IncidentKind, Severity};
use vigil::server::Running;

const BIN: &str = env!("CARGO_BIN_EXE_vigil");
const WAIT: Duration = Duration::from_secs(60);

async fn start(dir: &Path, grpc: &str) -> Running {
    let settings = Config::default()
        .resolve(Overrides {
            grpc_addr: Some(grpc.into()),
            http_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.to_path_buf()),
            log_format: None,
        })
        .unwrap();
    vigil::server::start(&settings).await.unwrap()
}

async fn open(r: &Running, engine: EngineToken, key: u64) -> String {
    let ev = r
        .incidents
        .submit(
            engine,
            RuleEvent {
                kind: IncidentKind::PedestrianOnRoad,
                severity: Severity::Critical,
                zone_id: "road".into(),
                ..common::opened_event(key, format!("person {key} on the road"))
            },
        )
        .await
        .unwrap();
    ev.incident.id
}

/// Runs `vigil incidents --server ADDR ARGS...` to completion; returns stdout.
fn cli(addr: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["incidents", "--server", addr])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Kills the child when dropped, so a failing test leaves no process behind.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn next_json(rx: &mpsc::Receiver<String>) -> serde_json::Value {
    let line = rx.recv_timeout(WAIT).expect("a line from watch");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_a_restart_and_review_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), "127.0.0.1:0").await;
    let addr = r.grpc_addr.to_string();
    let engine = r.incidents.engine();
    let mut watch = Reaped(
        Command::new(BIN)
            .args(["incidents", "--server", &addr, "watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = watch.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let id1 = open(&r, engine, 1).await;
    open(&r, engine, 2).await;
    let rx = tokio::task::spawn_blocking(move || {
        let a = next_json(&rx);
        let b = next_json(&rx);
        (a, b, rx)
    });
    let (a, b, rx) = rx.await.unwrap();
    assert_eq!(a["sequence"], 1);
    assert_eq!(a["type"], "OPENED");
    assert_eq!(a["incident"]["id"], id1.as_str());
    assert_eq!(a["incident"]["kind"], "PEDESTRIAN_ON_ROAD");
    assert_eq!(a["incident"]["severity"], "CRITICAL");
    assert_eq!(b["sequence"], 2);

    // The server goes away and comes back on the same address and data: watch resumes.
    r.shutdown(WAIT).await.unwrap();
    let r = start(dir.path(), &addr).await;
    let engine = r.incidents.engine();
    open(&r, engine, 1).await;
    let addr2 = addr.clone();
    let id = id1.clone();
    let acked = tokio::task::spawn_blocking(move || {
        cli(&addr2, &["ack", &id, "--actor", "op-dung"]);
        cli(
            &addr2,
            &["note", &id, "checked on site", "--actor", "op-dung"],
        );
        (
            cli(&addr2, &["show", &id, "--json"]),
            cli(&addr2, &["list", "--camera", "gate-1"]),
        )
    });
    let (show, list) = acked.await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(show.trim()).unwrap();
    assert_eq!(shown["review_status"], "ACKNOWLEDGED");
    assert_eq!(shown["audit"][0]["actor"], "op-dung");
    assert_eq!(shown["audit"][1]["note"], "checked on site");
    assert_eq!(list.lines().count(), 3, "{list}");
    let rest = tokio::task::spawn_blocking(move || [(); 5].map(|_| next_json(&rx)))
        .await
        .unwrap();
    let got: Vec<_> = rest
        .iter()
        .map(|v| {
            (
                v["sequence"].as_u64().unwrap(),
                v["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "CLOSED".to_string()), // the restart closes what the old engines left open
            (4, "CLOSED".to_string()),
            (5, "OPENED".to_string()),
            (6, "ACKNOWLEDGED".to_string()),
            (7, "NOTE".to_string())
        ]
    );
    assert_eq!(rest[0]["incident"]["id"], id1.as_str());
    assert_eq!(rest[4]["audit"]["note"], "checked on site");

    // Bad input is refused by name, before anything is sent.
    let out = Command::new(BIN)
        .args(["incidents", "--server", &addr, "resolve", &id1, "maybe"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RESOLUTION: \"maybe\""), "{err}");
    drop(watch);
    r.shutdown(WAIT).await.unwrap();
}
