//! Incident delivery end to end over loopback, every part real: the test camera serves the PETS
//! 2009 pedestrians clip over RTSP, the service (`server::start`, the default detector) ingests
//! it, a camera with a restricted lawn zone is registered through the gRPC `CameraService`, and a
//! gRPC subscriber receives the `INTRUSION` incident, then its snapshot and its clip. The
//! snapshot comes back through `MediaService.GetSnapshot` as a JPEG of the camera's real size;
//! the clip through `DownloadClip`, and `gst-discoverer-1.0` reads it as H.264 of the expected
//! duration within one GOP.
//!
//! The camera is first registered without rules and the rules are added once its pre-roll ring is
//! full, so that the clip's expected span is the configured pre-roll plus post-roll (cut on the
//! key frame at or before the start), not whatever the ring held at start.
//!
//! Without `../shared` (a fresh clone) the same scene comes from Debian's `vtest.avi`, which the
//! test camera re-encodes to H.264; under CI the shared clip is required.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::api::pb::media_service_client::MediaServiceClient;
use vigil::camera::CameraFile;
use vigil::ingest::testcam::{TestCam, TestCamOptions};

/// From registration to the clip being ready: stream start, detector load, the intrusion, the
/// post-roll. Generous for a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(240);

/// The clip to serve: the shared one, else (outside CI) Debian's vtest.avi.
fn footage() -> Option<PathBuf> {
    if let Some(p) = common::shared("media/pedestrians_pets2009_vtest_45-75s.mp4") {
        return Some(p);
    }
    eprintln!("incidents_e2e: using Debian's vtest.avi (the same scene) instead");
    common::vtest_avi()
}

fn camera_file() -> CameraFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cameras/pets_lawn.toml");
    CameraFile::load(&path).unwrap()
}

fn ts(t: &Option<prost_types::Timestamp>) -> SystemTime {
    let t = t.as_ref().expect("timestamp set");
    SystemTime::UNIX_EPOCH + Duration::new(t.seconds as u64, t.nanos as u32)
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The video of an MP4 file as demuxed: whether its first unit (decode order) is a key frame,
/// the presentation times (s, from its first picture) of its key frames, and of its last picture.
fn key_frames(path: &Path) -> (bool, Vec<f64>, f64) {
    gst::init().unwrap();
    let line = format!(
        "filesrc location={} ! qtdemux ! video/x-h264 ! appsink name=out sync=false",
        path.display()
    );
    let p = gst::parse::launch(&line)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = p
        .by_name("out")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut units = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buf = sample.buffer().unwrap();
        let pts = buf.pts().unwrap().nseconds() as f64 / 1e9;
        units.push((pts, !buf.flags().contains(gst::BufferFlags::DELTA_UNIT)));
    }
    p.set_state(gst::State::Null).unwrap();
    assert!(!units.is_empty(), "no video in {}", path.display());
    let first = units.iter().map(|u| u.0).fold(f64::MAX, f64::min);
    let last = units.iter().map(|u| u.0).fold(f64::MIN, f64::max) - first;
    let keys = units.iter().filter(|u| u.1).map(|u| u.0 - first).collect();
    (units[0].1, keys, last)
}

/// Reads the subscription until `done` says the events seen so far are enough.
async fn read_until(
    stream: &mut tonic::Streaming<pb::IncidentEvent>,
    seen: &mut Vec<pb::IncidentEvent>,
    deadline: Instant,
    what: &str,
    done: impl Fn(&[pb::IncidentEvent]) -> bool,
) {
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}; events: {seen:#?}"));
        let ev = next
            .expect("subscription ended")
            .expect("subscription error");
        if let Some(prev) = seen.last() {
            assert!(ev.sequence > prev.sequence, "sequence went back: {ev:?}");
        }
        seen.push(ev);
    }
}

/// The first OPENED event of an INTRUSION.
fn opened(evs: &[pb::IncidentEvent]) -> Option<&pb::IncidentEvent> {
    evs.iter().find(|e| {
        is(e, pb::IncidentEventType::Opened)
            && e.incident.as_ref().map(|i| i.kind) == Some(pb::IncidentKind::Intrusion as i32)
    })
}

fn is(ev: &pb::IncidentEvent, t: pb::IncidentEventType) -> bool {
    ev.r#type == t as i32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intrusion_reaches_a_subscriber_with_snapshot_and_clip() {
    let Some(clip) = footage() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::loopback(dir.path());
    // An incident still open when the cap is reached ends its clip there: keep the test short.
    settings.media.clip_max_s = 20.0;
    let (pre, post, max) = (
        settings.media.clip_pre_roll_s,
        settings.media.clip_post_roll_s,
        settings.media.clip_max_s,
    );
    let running = vigil::server::start(&settings).await.unwrap();
    assert!(
        running.detection_error.is_none(),
        "detection must run: {:?}",
        running.detection_error
    );
    let mut opts = TestCamOptions::new(&clip);
    opts.path = "/pets".into();
    let cam = tokio::task::spawn_blocking(move || TestCam::start(&opts))
        .await
        .unwrap()
        .unwrap();
    let server = running.grpc_addr.to_string();
    let channel = Channel::from_shared(format!("http://{server}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // Subscribe before anything happens: the stream carries the whole story.
    let mut stream = IncidentServiceClient::new(channel.clone())
        .subscribe(pb::SubscribeRequest {
            after_sequence: 0,
            cameras: vec!["cameras/pets-lawn".into()],
            kinds: vec![],
            min_severity: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // Register without rules, let the ring fill past the pre-roll, then add the rules.
    let full = camera_file();
    let mut bare = full.clone();
    bare.rules.clear();
    let id = vigil::api::client::register(&server, &bare, &cam.url())
        .await
        .unwrap();
    assert_eq!(id, "pets-lawn");
    let started = Instant::now();
    loop {
        let s = running.status.get(&id);
        if s.as_ref().is_some_and(|s| s.frames_in > 0) {
            break;
        }
        assert!(started.elapsed() < WAIT, "the camera never streamed: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(pre + 2.0)).await;
    vigil::api::client::register(&server, &full, &cam.url())
        .await
        .unwrap();

    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    read_until(&mut stream, &mut seen, deadline, "INTRUSION", |evs| {
        opened(evs).is_some()
    })
    .await;
    let incident = opened(&seen).unwrap().incident.clone().unwrap();
    assert_eq!(incident.camera, "cameras/pets-lawn");
    assert_eq!(incident.zone_id, "lawn");
    assert_eq!(incident.rule_id, "lawn-intrusion");
    assert!(
        incident.objects.iter().any(|o| o.class == "person"),
        "{incident:?}"
    );
    let name = incident.name.clone();
    let media = |evs: &[pb::IncidentEvent], want: &dyn Fn(&pb::Incident) -> bool| {
        evs.iter()
            .filter(|e| is(e, pb::IncidentEventType::Media))
            .filter_map(|e| e.incident.as_ref())
            .find(|i| i.name == name && want(i))
            .cloned()
    };
    let snap_ready = |i: &pb::Incident| i.snapshot == pb::SnapshotState::Available as i32;
    let clip_ready = |i: &pb::Incident| {
        i.clip
            .as_ref()
            .is_some_and(|c| c.state != pb::ClipState::Pending as i32)
    };
    read_until(
        &mut stream,
        &mut seen,
        deadline,
        "snapshot and clip",
        |evs| media(evs, &snap_ready).is_some() && media(evs, &clip_ready).is_some(),
    )
    .await;
    let with_clip = media(&seen, &clip_ready).unwrap();
    let clip_rec = with_clip.clip.unwrap();
    assert_eq!(clip_rec.state, pb::ClipState::Ready as i32, "{with_clip:?}");
    assert!(with_clip.clip_url.ends_with("/clip.mp4"), "{with_clip:?}");

    // The snapshot, annotated and plain: JPEGs of the camera's native size.
    let mut media_client = MediaServiceClient::new(channel.clone());
    for plain in [false, true] {
        let snap = media_client
            .get_snapshot(pb::GetSnapshotRequest {
                name: name.clone(),
                plain,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(snap.content_type, "image/jpeg");
        let img = image::load_from_memory_with_format(&snap.data, image::ImageFormat::Jpeg)
            .unwrap_or_else(|e| panic!("snapshot (plain {plain}) does not decode: {e}"));
        assert_eq!((img.width(), img.height()), (768, 576), "plain {plain}");
    }

    // The clip, downloaded in chunks that tile the file.
    let mut chunks = media_client
        .download_clip(pb::DownloadClipRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut total = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.offset as usize, bytes.len(), "chunks out of order");
        assert_eq!(chunk.content_type, "video/mp4");
        total = Some(chunk.total_size);
        bytes.extend_from_slice(&chunk.data);
    }
    assert_eq!(total, Some(bytes.len() as u64), "incomplete download");
    let file = dir.path().join("downloaded.mp4");
    std::fs::write(&file, &bytes).unwrap();

    // Read from outside: H.264, with the duration the incident records.
    let (text, duration) = common::discover(&file);
    let duration = duration.as_secs_f64();
    assert!(text.contains("H.264"), "not H.264: {text}");
    let (first_is_key, keys, last) = key_frames(&file);
    assert!(
        first_is_key,
        "the clip does not start on a key frame: {keys:?}"
    );
    let gop = keys
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(last - keys[keys.len() - 1], f64::max)
        .max(0.1);
    let (clip_start, clip_end) = (ts(&clip_rec.start_time), ts(&clip_rec.end_time));
    let recorded = secs_between(clip_start, clip_end);
    assert!(
        (duration - recorded).abs() < 0.25,
        "file says {duration} s, incident says {recorded} s"
    );

    // It starts on the key frame at or before start - pre-roll (within one GOP of it), and ends
    // at the incident's end or start + post-roll, whichever is later, at most `max` long: if the
    // incident closed before the clip was ready, the clip reaches its end.
    let start = ts(&incident.start_time);
    let lead = secs_between(clip_start, start);
    assert!(
        lead >= pre - 0.5 && lead <= pre + gop + 0.5,
        "clip starts {lead} s before the incident, want the pre-roll {pre} s within a GOP"
    );
    let ready_at = seen
        .iter()
        .position(|e| {
            is(e, pb::IncidentEventType::Media) && e.incident.as_ref().is_some_and(&clip_ready)
        })
        .unwrap();
    let closed = seen[..ready_at]
        .iter()
        .filter(|e| is(e, pb::IncidentEventType::Closed))
        .filter_map(|e| e.incident.as_ref())
        .find(|i| i.name == name)
        .map(|i| secs_between(start, ts(&i.end_time)));
    let cap = max - lead;
    let want = closed.map_or(cap, |end| end.max(post).min(cap));
    let reach = secs_between(start, clip_end);
    eprintln!(
        "incidents_e2e: clip {duration:.2} s from {lead:.2} s before the start to {reach:.2} s \
         after it; incident closed {closed:?} s after its start; want {want:.2} s; GOP {gop:.2} s"
    );
    assert!(
        (reach - want).abs() < 0.5,
        "the clip ends {reach} s after the start, want {want} s (incident end {closed:?} s, \
         post-roll {post} s, cap {cap} s)"
    );
    assert!(
        duration <= max + 0.25,
        "clip of {duration} s, longer than {max} s"
    );

    cam.stop();
    running.shutdown(Duration::from_secs(10)).await.unwrap();
}
