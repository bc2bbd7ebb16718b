//! Media retention on a real server and data directory: snapshot and clip files at their
//! `media::paths` locations, incidents of different ages, passes by age and by disk budget.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use vigil::api::pb;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::config::{Config, Overrides, RetentionSettings};
use vigil::incidents::model::{Clip, ClipState, SnapshotState};
use vigil::incidents::{MediaUpdate, retention};
use vigil::media::paths;
use vigil::rules::spec::{IncidentKind, Severity};
use vigil::rules::{Phase, RuleEvent};

const DAY: Duration = Duration::from_secs(86_400);
const WAIT: Duration = Duration::from_secs(60);

fn opened(key: u64, wall: SystemTime) -> RuleEvent {
    RuleEvent {
        camera_id: "gate-1".into(),
        rule_id: "r1".into(),
        kind: IncidentKind::Loitering,
        severity: Severity::Info,
        zone_id: "lawn".into(),
        key,
        phase: Phase::Opened,
        start: Duration::from_secs(100),
        end: None,
        at: Duration::from_secs(100),
        wall,
        objects: vec![],
        peak: BTreeMap::new(),
        summary: "someone stays".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_media_go_first_and_are_marked_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.retention.max_media_age_days = 0.0; // the background task stays idle; passes run below
    let settings = cfg
        .resolve(Overrides {
            grpc_addr: Some("127.0.0.1:0".into()),
            http_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            log_format: None,
        })
        .unwrap();
    let r = vigil::server::start(&settings).await.unwrap();
    let log = r.incidents.clone();
    let engine = log.engine();
    let now = SystemTime::now();
    // Submitted newest first, so that "oldest" means start time, not insertion order.
    let mut ids = Vec::new();
    for (key, age) in [(1, 1), (2, 20), (3, 40)] {
        let ev = log
            .submit(engine, opened(key, now - DAY * age))
            .await
            .unwrap();
        let id = ev.incident.id.clone();
        let clip = paths::clip_path(dir.path(), &id).unwrap();
        for f in [
            paths::snapshot_path(dir.path(), &id, true).unwrap(),
            paths::snapshot_path(dir.path(), &id, false).unwrap(),
            clip.clone(),
        ] {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, vec![0u8; 1000]).unwrap();
        }
        log.media_ready(&id, MediaUpdate::Snapshot(SnapshotState::Available))
            .await
            .unwrap();
        let clip_times = Clip {
            state: ClipState::Ready,
            start: Some(now - DAY * age),
            end: Some(now - DAY * age + Duration::from_secs(20)),
        };
        log.media_ready(&id, MediaUpdate::Clip(clip_times))
            .await
            .unwrap();
        ids.push(id);
    }
    let (newest, middle, oldest) = (&ids[0], &ids[1], &ids[2]);
    let files_of = |id: &str| {
        [
            paths::snapshot_path(dir.path(), id, true).unwrap(),
            paths::snapshot_path(dir.path(), id, false).unwrap(),
            paths::clip_path(dir.path(), id).unwrap(),
        ]
    };
    let present = |id: &str| files_of(id).iter().all(|f| f.is_file());
    let gone = |id: &str| files_of(id).iter().all(|f| !f.exists());

    let ch = tonic::transport::Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = IncidentServiceClient::new(ch);
    let mut stream = c
        .subscribe(pb::SubscribeRequest {
            after_sequence: 9, // 3 x (opened, snapshot, clip)
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    // By age: only the 40-day-old incident is past 30 days.
    let by_age = RetentionSettings {
        max_media_age: Some(DAY * 30),
        max_media_bytes: None,
        interval: Duration::from_secs(60),
    };
    let expired = retention::run_once(&log, dir.path(), &by_age, now)
        .await
        .unwrap();
    assert_eq!(&expired, std::slice::from_ref(oldest));
    assert!(gone(oldest) && present(middle) && present(newest));

    // By budget: 6000 bytes left, budget 4000: the oldest remaining goes, then it fits.
    let by_budget = RetentionSettings {
        max_media_age: None,
        max_media_bytes: Some(4000),
        interval: Duration::from_secs(60),
    };
    let expired = retention::run_once(&log, dir.path(), &by_budget, now)
        .await
        .unwrap();
    assert_eq!(&expired, std::slice::from_ref(middle));
    assert!(gone(middle) && present(newest));
    let again = retention::run_once(&log, dir.path(), &by_budget, now)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    // Each expiry is an event, and the record keeps the clip's times with the media marked.
    for want in [oldest, middle] {
        let ev = tokio::time::timeout(WAIT, stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.r#type(), pb::IncidentEventType::Media);
        let inc = ev.incident.unwrap();
        assert_eq!(&inc.name, &format!("incidents/{want}"));
        assert_eq!(inc.snapshot(), pb::SnapshotState::Expired);
        let clip = inc.clip.unwrap();
        assert_eq!(clip.state(), pb::ClipState::Expired);
        assert!(clip.start_time.is_some() && clip.end_time.is_some());
    }
    let kept = c
        .get_incident(pb::GetIncidentRequest {
            name: format!("incidents/{newest}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.snapshot(), pb::SnapshotState::Available);
    assert_eq!(kept.clip.unwrap().state(), pb::ClipState::Ready);
    r.shutdown(WAIT).await.unwrap();
}
