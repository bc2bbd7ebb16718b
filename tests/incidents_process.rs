//! The incident log across `kill -9` of a real `vigil serve`: review actions (events like any
//! other) are produced by one client while another subscribes; the process is killed mid-stream
//! and restarted on the same data directory; a resubscription from the last sequence seen gets
//! exactly the rest, every acknowledged write survived, and sequence numbers continue unused.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::rules::RuleEvent;
use vigil::rules::spec::{IncidentKind, Severity};

const BIN: &str = env!("CARGO_BIN_EXE_vigil");
const WAIT: Duration = Duration::from_secs(60);

struct Serve {
    child: Child,
    grpc: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vigil serve` on free ports and reads the gRPC address from its JSON log.
fn serve(data_dir: &Path) -> Serve {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json"])
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
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["fields"]["message"] == "vigil is serving" {
            let grpc = v["fields"]["grpc_addr"].as_str().unwrap().to_string();
            return Serve { child, grpc };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("vigil serve did not log its address in time");
}

async fn client(addr: &str) -> IncidentServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    IncidentServiceClient::new(ch)
}

/// One incident in the log before the process starts (the binary has no camera to make one).
async fn seed(dir: &Path) -> String {
    let settings = common::loopback(dir.to_path_buf());
    let r = vigil::server::start(&settings).await.unwrap();
    let engine = r.incidents.engine();
    let ev = r
        .incidents
        .submit(
            engine,
            RuleEvent {
                kind: IncidentKind::Crowd,
                severity: Severity::Critical,
                zone_id: "square".into(),
                start: Duration::ZERO,
                at: Duration::from_secs(5),
                peak: BTreeMap::from([("count".to_string(), 12.0)]),
                ..common::opened_event(1, "12 persons in zone square".into())
            },
        )
        .await
        .unwrap();
    assert_eq!(ev.sequence, 1);
    r.shutdown(WAIT).await.unwrap();
    format!("incidents/{}", ev.incident.id)
}

/// (sequence, type, note text) of every event received.
type Seen = Arc<Mutex<Vec<(u64, pb::IncidentEventType, String)>>>;

async fn collect(
    mut s: tonic::Streaming<pb::IncidentEvent>,
    seen: Seen,
    until_note: Option<String>,
) {
    while let Ok(Some(ev)) = s.message().await {
        let t = ev.r#type();
        let note = ev.audit.map(|a| a.note).unwrap_or_default();
        let done = until_note.as_ref() == Some(&note);
        seen.lock().unwrap().push((ev.sequence, t, note));
        if done {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_survive_kill_9_and_sequences_continue() {
    let dir = tempfile::tempdir().unwrap();
    let name = seed(dir.path()).await;

    let mut p = serve(dir.path());
    let mut sub = client(&p.grpc).await;
    let stream = sub
        .subscribe(pb::SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first: Seen = Arc::default();
    let reader = tokio::spawn(collect(stream, first.clone(), None));
    // Another client writes notes as fast as the server commits them, until the server dies.
    let mut writer_client = client(&p.grpc).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let acked2 = acked.clone();
    let n2 = name.clone();
    let writer = tokio::spawn(async move {
        for i in 0.. {
            let note = format!("note {i}");
            let r = writer_client
                .add_incident_note(pb::AddIncidentNoteRequest {
                    name: n2.clone(),
                    actor: "op-chi".into(),
                    note: note.clone(),
                })
                .await;
            if r.is_err() {
                return;
            }
            acked2.lock().unwrap().push(note);
        }
    });
    let deadline = Instant::now() + WAIT;
    while first.lock().unwrap().len() < 20 {
        assert!(Instant::now() < deadline, "no events from the live process");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.child.kill().unwrap(); // SIGKILL, while both clients are mid-flight
    p.child.wait().unwrap();
    tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    let first = first.lock().unwrap().clone();
    let last_seen = first.last().unwrap().0;

    let p = serve(dir.path());
    let mut c = client(&p.grpc).await;
    let stream = c
        .subscribe(pb::SubscribeRequest {
            after_sequence: last_seen,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second: Seen = Arc::default();
    let marker = "after the restart".to_string();
    let reader = tokio::spawn(collect(stream, second.clone(), Some(marker.clone())));
    c.add_incident_note(pb::AddIncidentNoteRequest {
        name: name.clone(),
        actor: "op-chi".into(),
        note: marker.clone(),
    })
    .await
    .unwrap();
    tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    let second = second.lock().unwrap().clone();

    // One log, no gap, no duplicate, no reused number: 1, 2, ... across the kill.
    let all: Vec<_> = first.iter().chain(&second).collect();
    let seqs: Vec<u64> = all.iter().map(|e| e.0).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want);
    assert_eq!(
        all.last().unwrap().2,
        marker,
        "the new event continues the sequence"
    );
    // Every note the server acknowledged before dying was committed and is in the stream.
    // The seeded incident, left open by the first run, was closed by the next one.
    assert_eq!(all[1].1, pb::IncidentEventType::Closed);
    let notes: Vec<&str> = all
        .iter()
        .filter(|e| e.1 == pb::IncidentEventType::Note)
        .map(|e| e.2.as_str())
        .collect();
    for n in acked.lock().unwrap().iter() {
        assert!(notes.contains(&n.as_str()), "{n} acknowledged but lost");
    }
    // And the audit trail holds exactly the notes of the stream.
    let inc = c
        .get_incident(pb::GetIncidentRequest { name })
        .await
        .unwrap()
        .into_inner();
    let trail: Vec<&str> = inc.audit.iter().map(|a| a.note.as_str()).collect();
    assert_eq!(trail, notes);
}
