//! The incident log over a real gRPC connection: an in-process server on a loopback port with a
//! SQLite file in a temporary directory, incidents produced through `Running::incidents` (the
//! handle the rule engines use), and the generated tonic client subscribing, listing and reviewing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tonic::Code;
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::incidents::{EngineToken, IncidentLog};
use vigil::rules::spec::{IncidentKind, Severity};
use vigil::rules::{Involved, Phase, RuleEvent};
use vigil::server::{self, Running};

/// Generous: the machine is shared and slow.
const WAIT: Duration = Duration::from_secs(60);

async fn start(dir: &Path) -> Running {
    let settings = common::loopback(dir.to_path_buf());
    server::start(&settings).await.unwrap()
}

async fn client(r: &Running) -> IncidentServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    IncidentServiceClient::new(ch)
}

fn rule_event(camera: &str, key: u64, phase: Phase, summary: &str) -> RuleEvent {
    RuleEvent {
        camera_id: camera.into(),
        rule_id: "lawn-intrusion".into(),
        kind: IncidentKind::Intrusion,
        severity: Severity::Warning,
        zone_id: "lawn".into(),
        key,
        phase,
        start: Duration::from_secs(10),
        end: (phase == Phase::Closed).then_some(Duration::from_secs(14)),
        at: Duration::from_secs(if phase == Phase::Closed { 16 } else { 12 }),
        // The wall clock of frame `at` (a camera whose stream started at a fixed time).
        wall: stream_start() + Duration::from_secs(if phase == Phase::Closed { 16 } else { 12 }),
        objects: vec![Involved {
            track_id: 7,
            class: "person".into(),
            bbox: [0.1, 0.2, 0.3, 0.6],
        }],
        peak: BTreeMap::from([("count".to_string(), 1.0)]),
        summary: summary.into(),
    }
}

/// The wall-clock time at which the test camera's stream clock was 0.
fn stream_start() -> SystemTime {
    static START: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *START.get_or_init(SystemTime::now)
}

/// Opens and closes `n` incidents: 2n events.
async fn produce(log: IncidentLog, engine: EngineToken, first_key: u64, n: u64, summary: String) {
    for k in first_key..first_key + n {
        for phase in [Phase::Opened, Phase::Closed] {
            log.submit(engine, rule_event("gate-1", k, phase, &summary))
                .await
                .unwrap();
        }
    }
}

async fn subscribe(
    c: &mut IncidentServiceClient<Channel>,
    after: u64,
) -> tonic::Streaming<pb::IncidentEvent> {
    c.subscribe(pb::SubscribeRequest {
        after_sequence: after,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

/// Reads events until one with sequence `until` (or beyond) arrives; returns their sequences.
async fn read_until(s: &mut tonic::Streaming<pb::IncidentEvent>, until: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    tokio::time::timeout(WAIT, async {
        while seqs.last().is_none_or(|&l| l < until) {
            let ev = s.message().await.unwrap().expect("stream ended early");
            seqs.push(ev.sequence);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event {until} in time; got up to {:?}", seqs.last()));
    seqs
}

fn assert_contiguous(seqs: &[u64], first: u64, last: u64) {
    let want: Vec<u64> = (first..=last).collect();
    assert_eq!(seqs, want, "every event once, in order, no gap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribe_after_n_while_producing_gets_exactly_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let mut c = client(&r).await;
    let engine = r.incidents.engine();
    let n = 120; // 240 events
    let producer = tokio::spawn(produce(
        r.incidents.clone(),
        engine,
        1,
        n,
        "one person".into(),
    ));

    let mut first = subscribe(&mut c, 0).await;
    let seen = read_until(&mut first, 30).await;
    assert_contiguous(&seen, 1, 30);
    drop(first); // disconnect after sequence 30, while the producer keeps going
    assert!(
        !producer.is_finished(),
        "the seam is tested while producing"
    );

    let mut second = subscribe(&mut c, 30).await;
    let rest = read_until(&mut second, 2 * n).await;
    assert_contiguous(&rest, 31, 2 * n);
    producer.await.unwrap();

    // A subscriber from 0 gets the whole log, and event contents are the committed records.
    let mut all = subscribe(&mut c, 0).await;
    let first_ev = all.message().await.unwrap().unwrap();
    assert_eq!(first_ev.r#type(), pb::IncidentEventType::Opened);
    let inc = first_ev.incident.unwrap();
    assert!(inc.name.starts_with("incidents/inc-"), "{}", inc.name);
    assert_eq!(inc.camera, "cameras/gate-1");
    assert_eq!(inc.kind(), pb::IncidentKind::Intrusion);
    assert_eq!(inc.objects[0].track_id, 7);
    assert_eq!(inc.status(), pb::IncidentStatus::Open);
    let closed = all.message().await.unwrap().unwrap();
    assert_eq!(closed.r#type(), pb::IncidentEventType::Closed);
    let ci = closed.incident.unwrap();
    assert_eq!(ci.name, inc.name, "open and close are one incident");
    assert_eq!(ci.status(), pb::IncidentStatus::Closed);
    let (s, e) = (ci.start_time.unwrap(), ci.end_time.unwrap());
    assert_eq!(e.seconds - s.seconds, 4, "end - start = stream 14 s - 10 s");
    let rest = read_until(&mut all, 2 * n).await;
    assert_contiguous(&rest, 3, 2 * n);

    // A cursor beyond the log is refused rather than silently waiting.
    let err = c
        .subscribe(pb::SubscribeRequest {
            after_sequence: 10_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("after_sequence"),
        "{}",
        err.message()
    );
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_survives_a_restart_and_replay_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let engine = r.incidents.engine();
    produce(r.incidents.clone(), engine, 1, 10, "x".into()).await; // 1..=20
    let mut c = client(&r).await;
    let mut s = subscribe(&mut c, 0).await;
    let seen = read_until(&mut s, 12).await;
    assert_contiguous(&seen, 1, 12);
    r.shutdown(WAIT).await.unwrap();
    // The stream ends (the log stopped) with a status saying where to resume.
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match s.message().await {
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(st) => break Some(st),
            }
        }
    })
    .await
    .unwrap();
    if let Some(st) = end {
        assert!(
            matches!(
                st.code(),
                Code::Unavailable | Code::Unknown | Code::Cancelled
            ),
            "{st:?}"
        );
    }

    let r = start(dir.path()).await;
    let engine = r.incidents.engine(); // a new engine life: keys start over without colliding
    let producer = tokio::spawn(produce(r.incidents.clone(), engine, 1, 10, "y".into()));
    let mut c = client(&r).await;
    let mut s = subscribe(&mut c, 12).await;
    let rest = read_until(&mut s, 40).await;
    assert_contiguous(&rest, 13, 40);
    producer.await.unwrap();
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_delays_nobody_and_is_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let engine = r.incidents.engine();
    // A client with small HTTP/2 windows (64 KiB) and big events, so that the connection holds few
    // of them and the server-side buffers fill up.
    let ch = Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut c = IncidentServiceClient::new(ch);
    let summary = "s".repeat(3000);
    produce(r.incidents.clone(), engine, 1, 1, summary.clone()).await;
    let mut stalled = subscribe(&mut c, 0).await;
    assert_eq!(stalled.message().await.unwrap().unwrap().sequence, 1);
    // `stalled` is not read from here on. The writer and another subscriber keep going.
    let n = 400; // 800 more events, well beyond every buffer between the log and the client
    let last = 2 + 2 * n;
    let mut other_client = client(&r).await;
    let mut other = subscribe(&mut other_client, 0).await;
    let producer = tokio::spawn(produce(r.incidents.clone(), engine, 2, n, summary));
    let got = read_until(&mut other, last).await;
    assert_contiguous(&got, 1, last);
    // The writer finished every commit while `stalled` held its stream.
    tokio::time::timeout(WAIT, producer).await.unwrap().unwrap();

    // The stalled one, once it reads again, gets every event once, in order: caught up from the
    // store, since the live buffer moved on without it.
    let rest = read_until(&mut stalled, last).await;
    assert_contiguous(&rest, 2, last);
    assert!(r.incidents.hub().catch_ups() >= 1, "it did fall behind");
    let m = r.metrics.render();
    assert!(
        m.contains(&format!("vigil_incident_events_total {last}\n")),
        "{m}"
    );
    assert!(m.contains("vigil_incident_subscribers 2\n"), "{m}");
    r.shutdown(WAIT).await.unwrap();
}

async fn last_sequence(c: &mut IncidentServiceClient<Channel>) -> u64 {
    // The log's end, as a subscriber learns it: the greatest cursor Subscribe accepts.
    let (mut lo, mut hi) = (0u64, 1u64 << 20);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let ok = c
            .subscribe(pb::SubscribeRequest {
                after_sequence: mid,
                ..Default::default()
            })
            .await
            .is_ok();
        if ok { lo = mid } else { hi = mid - 1 }
    }
    lo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_actions_are_audited_events_and_bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let engine = r.incidents.engine();
    let opened = r
        .incidents
        .submit(engine, rule_event("gate-1", 1, Phase::Opened, "one person"))
        .await
        .unwrap();
    let name = format!("incidents/{}", opened.incident.id);
    let mut c = client(&r).await;
    let mut stream = subscribe(&mut c, 1).await;

    let ack = c
        .acknowledge_incident(pb::AcknowledgeIncidentRequest {
            name: name.clone(),
            actor: "op-anna".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.review_status(), pb::ReviewStatus::Acknowledged);
    let again = c
        .acknowledge_incident(pb::AcknowledgeIncidentRequest {
            name: name.clone(),
            actor: "op-anna".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    c.add_incident_note(pb::AddIncidentNoteRequest {
        name: name.clone(),
        actor: "op-binh".into(),
        note: "gardener, not an intruder".into(),
    })
    .await
    .unwrap();
    let resolved = c
        .resolve_incident(pb::ResolveIncidentRequest {
            name: name.clone(),
            actor: "op-binh".into(),
            resolution: pb::Resolution::FalseAlarm as i32,
            note: "known staff".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.review_status(), pb::ReviewStatus::Resolved);
    assert_eq!(resolved.resolution(), pb::Resolution::FalseAlarm);

    let mut types = Vec::new();
    for _ in 0..3 {
        let ev = tokio::time::timeout(WAIT, stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.incident.as_ref().unwrap().name, name);
        types.push((ev.sequence, ev.r#type()));
    }
    use pb::IncidentEventType as T;
    assert_eq!(
        types,
        [(2, T::Acknowledged), (3, T::Note), (4, T::Resolved)]
    );

    let before = c
        .get_incident(pb::GetIncidentRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    let trail: Vec<_> = before
        .audit
        .iter()
        .map(|a| {
            (
                a.actor.as_str(),
                a.action(),
                a.resolution(),
                a.note.as_str(),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("op-anna", T::Acknowledged, pb::Resolution::Unspecified, ""),
            (
                "op-binh",
                T::Note,
                pb::Resolution::Unspecified,
                "gardener, not an intruder"
            ),
            (
                "op-binh",
                T::Resolved,
                pb::Resolution::FalseAlarm,
                "known staff"
            ),
        ]
    );
    let now = SystemTime::now();
    for a in &before.audit {
        let t = SystemTime::try_from(a.time.unwrap()).unwrap();
        assert!(now.duration_since(t).unwrap() < WAIT, "recorded when");
    }

    // Invalid requests: INVALID_ARGUMENT naming the field, nothing stored.
    let long = "n".repeat(2001);
    let bad_name = "incidents/../../etc".to_string();
    let cases: Vec<(&str, Result<tonic::Response<pb::Incident>, tonic::Status>)> = vec![
        (
            "actor",
            c.add_incident_note(pb::AddIncidentNoteRequest {
                name: name.clone(),
                actor: "".into(),
                note: "x".into(),
            })
            .await,
        ),
        (
            "actor",
            c.add_incident_note(pb::AddIncidentNoteRequest {
                name: name.clone(),
                actor: "a\u{7}b".into(),
                note: "x".into(),
            })
            .await,
        ),
        (
            "note",
            c.add_incident_note(pb::AddIncidentNoteRequest {
                name: name.clone(),
                actor: "op".into(),
                note: " ".into(),
            })
            .await,
        ),
        (
            "note",
            c.add_incident_note(pb::AddIncidentNoteRequest {
                name: name.clone(),
                actor: "op".into(),
                note: long,
            })
            .await,
        ),
        (
            "name",
            c.add_incident_note(pb::AddIncidentNoteRequest {
                name: bad_name.clone(),
                actor: "op".into(),
                note: "x".into(),
            })
            .await,
        ),
        (
            "name",
            c.acknowledge_incident(pb::AcknowledgeIncidentRequest {
                name: "cameras/gate-1".into(),
                actor: "op".into(),
            })
            .await,
        ),
        (
            "resolution",
            c.resolve_incident(pb::ResolveIncidentRequest {
                name: name.clone(),
                actor: "op".into(),
                resolution: 0,
                note: String::new(),
            })
            .await,
        ),
        (
            "resolution",
            c.resolve_incident(pb::ResolveIncidentRequest {
                name: name.clone(),
                actor: "op".into(),
                resolution: 42,
                note: String::new(),
            })
            .await,
        ),
        (
            "name",
            c.get_incident(pb::GetIncidentRequest { name: bad_name })
                .await,
        ),
    ];
    for (field, res) in cases {
        let e = res.expect_err(field);
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().starts_with(field), "{field}: {}", e.message());
    }
    let missing = c
        .acknowledge_incident(pb::AcknowledgeIncidentRequest {
            name: "incidents/inc-1-0".into(),
            actor: "op".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let after = c
        .get_incident(pb::GetIncidentRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before, "nothing stored by rejected requests");
    assert_eq!(
        last_sequence(&mut c).await,
        4,
        "no event for rejected requests"
    );
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let engine = r.incidents.engine();
    let mut ids = Vec::new();
    for (k, cam) in [(1, "gate-1"), (2, "gate-2"), (3, "gate-1"), (4, "gate-1")] {
        let ev = r
            .incidents
            .submit(engine, rule_event(cam, k, Phase::Opened, "p"))
            .await
            .unwrap();
        ids.push(format!("incidents/{}", ev.incident.id));
    }
    r.incidents
        .submit(engine, rule_event("gate-1", 1, Phase::Closed, "p"))
        .await
        .unwrap();
    let mut c = client(&r).await;
    let list = |camera: &str, status: pb::IncidentStatus, size: i32, token: String| {
        pb::ListIncidentsRequest {
            camera: camera.into(),
            status: status as i32,
            page_size: size,
            page_token: token,
            ..Default::default()
        }
    };
    // gate-1, two per page: [4, 3], then [1].
    let p1 = c
        .list_incidents(list(
            "cameras/gate-1",
            pb::IncidentStatus::Unspecified,
            2,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = p1.incidents.iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, [ids[3].clone(), ids[2].clone()]);
    assert!(!p1.next_page_token.is_empty());
    let p2 = c
        .list_incidents(list(
            "cameras/gate-1",
            pb::IncidentStatus::Unspecified,
            2,
            p1.next_page_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = p2.incidents.iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, [ids[0].clone()]);
    assert!(p2.next_page_token.is_empty());
    let closed = c
        .list_incidents(list("", pb::IncidentStatus::Closed, 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.incidents.len(), 1);
    assert_eq!(closed.incidents[0].name, ids[0]);
    for (req, field) in [
        (
            list("gate-1", pb::IncidentStatus::Unspecified, 0, String::new()),
            "camera",
        ),
        (
            list("", pb::IncidentStatus::Unspecified, -1, String::new()),
            "page_size",
        ),
        (
            list("", pb::IncidentStatus::Unspecified, 0, "zz".into()),
            "page_token",
        ),
        (
            pb::ListIncidentsRequest {
                status: 9,
                ..Default::default()
            },
            "status",
        ),
    ] {
        let e = c.list_incidents(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with(field), "{field}: {}", e.message());
    }
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_engine_lives_keep_incidents_apart() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let (a, b) = (r.incidents.engine(), r.incidents.engine());
    assert_ne!(a, b);
    // The same key from two engine lives (a camera whose engine restarted) is two incidents.
    let ia = r
        .incidents
        .submit(a, rule_event("gate-1", 1, Phase::Opened, "a"))
        .await
        .unwrap();
    let ib = r
        .incidents
        .submit(b, rule_event("gate-1", 1, Phase::Opened, "b"))
        .await
        .unwrap();
    assert_ne!(ia.incident.id, ib.incident.id);
    let closed = r
        .incidents
        .submit(b, rule_event("gate-1", 1, Phase::Closed, "b"))
        .await
        .unwrap();
    assert_eq!(closed.incident.id, ib.incident.id);
    // An engine cannot update what it never opened, and nothing is committed for it.
    let e = r
        .incidents
        .submit(a, rule_event("gate-1", 9, Phase::Updated, "?"))
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("key:"), "{e}");
    let mut crit = rule_event("gate-2", 2, Phase::Opened, "c");
    crit.severity = Severity::Critical;
    crit.kind = IncidentKind::Crowd;
    r.incidents.submit(a, crit).await.unwrap(); // sequence 4

    let mut c = client(&r).await;
    let cases: [(pb::SubscribeRequest, Vec<u64>); 3] = [
        (
            pb::SubscribeRequest {
                cameras: vec!["cameras/gate-2".into()],
                ..Default::default()
            },
            vec![4],
        ),
        (
            pb::SubscribeRequest {
                kinds: vec![pb::IncidentKind::Intrusion as i32],
                ..Default::default()
            },
            vec![1, 2, 3],
        ),
        (
            pb::SubscribeRequest {
                min_severity: pb::Severity::Critical as i32,
                after_sequence: 1,
                ..Default::default()
            },
            vec![4],
        ),
    ];
    for (req, want) in cases {
        let mut s = c.subscribe(req.clone()).await.unwrap().into_inner();
        let mut got = Vec::new();
        while got.len() < want.len() {
            let ev = tokio::time::timeout(WAIT, s.message())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            got.push(ev.sequence);
        }
        assert_eq!(got, want, "{req:?}");
    }
    for (req, field) in [
        (
            pb::SubscribeRequest {
                cameras: vec!["gate-1".into()],
                ..Default::default()
            },
            "cameras[0]",
        ),
        (
            pb::SubscribeRequest {
                kinds: vec![5, 77],
                ..Default::default()
            },
            "kinds[1]",
        ),
        (
            pb::SubscribeRequest {
                min_severity: 9,
                ..Default::default()
            },
            "min_severity",
        ),
    ] {
        let e = c.subscribe(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with(field), "{field}: {}", e.message());
    }
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_and_media_services_are_in_health_and_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let ch = Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let services = ["vigil.v1.IncidentService", "vigil.v1.MediaService"];
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    for service in services {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service}"
        );
    }
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = tokio::time::timeout(WAIT, stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected {resp:?}")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for service in services {
        assert!(names.contains(&service.to_string()), "{names:?}");
    }
    r.shutdown(WAIT).await.unwrap();
}
