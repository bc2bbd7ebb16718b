//! Incident clips cut from a live camera's ring, end to end: a real pipeline plays real footage at
//! its own pace into the ring, `write_clip` is asked for a clip around a stream time while the
//! post-roll is still arriving, and the file is checked from outside: H.264, `moov` before `mdat`
//! (faststart), the duration asked for within one GOP, a key frame first, every unit decodes, and
//! no `.part` left. Cases: an H.264 file without B-frames, one with B-frames (also cut short by
//! `max_len` and by `stop`), Debian's vtest.avi served by the test camera over RTSP (encoded
//! live, so a fresh clone runs that case), and H.265 with B-frames (encoded here by x265).

mod common;
mod ingest_util;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use ingest_util::{Cam, Sink, fast_config, start, start_source};
use vigil::ingest::{CameraState, IngestConfig, Source, TestCam, TestCamOptions};
use vigil::media::{Annotation, ClipResult, ClipSettings, write_clip, write_snapshots};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Clip settings with a generous length limit and stall wait.
fn settings(pre_roll: f64, post_roll: f64) -> ClipSettings {
    ClipSettings {
        pre_roll: secs(pre_roll),
        post_roll: secs(post_roll),
        max_len: secs(60.0),
        wait_limit: secs(5.0),
    }
}

fn config() -> IngestConfig {
    IngestConfig {
        pre_roll_s: 6.0,
        ..fast_config()
    }
}

fn file_camera(id: &str, path: PathBuf) -> Cam {
    let source = Source::File {
        path,
        realtime: true,
    };
    start_source(id, id, source, &config(), 5.0, 320, Sink::Slot)
}

/// Waits until the camera's ring holds a unit presented at or after `t`.
fn wait_for_stream_time(cam: &Cam, t: Duration) {
    cam.wait_for(CameraState::Streaming, Duration::from_secs(30));
    let t0 = Instant::now();
    loop {
        let newest = cam
            .ring
            .from_keyframe_before(Duration::MAX)
            .units
            .last()
            .map(|(_, u)| u.pts);
        if newest.is_some_and(|p| p >= t) {
            return;
        }
        assert!(
            t0.elapsed() < t + Duration::from_secs(30),
            "{}: stream time {newest:?} never reached {t:?}",
            cam.id
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One clip asked for on its own named thread, as the service does it.
fn spawn_clip(
    cam: &Cam,
    start: Duration,
    s: ClipSettings,
    path: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<vigil::error::Result<ClipResult>> {
    let ring = cam.ring.clone();
    std::thread::Builder::new()
        .name(format!("vigil-clip-{}", cam.id))
        .spawn(move || write_clip(&ring, start, &s, &path, &stop))
        .unwrap()
}

/// What the file says about itself, read with tools that know nothing about vigil.
#[derive(Debug)]
struct Inspected {
    /// Top-level MP4 boxes in file order.
    boxes: Vec<String>,
    /// `gst-discoverer-1.0`'s text.
    discovered: String,
    duration: Duration,
    /// Demuxed access units, and whether the first one is a key frame.
    units: usize,
    first_is_key: bool,
    /// Pictures the decoder produced.
    decoded: usize,
}

fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        let kind = String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string();
        if size == 1 {
            size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        } else if size == 0 {
            size = (bytes.len() - at) as u64;
        }
        assert!(size >= 8, "box {kind} of size {size} at {at}");
        boxes.push(kind);
        at += size as usize;
    }
    assert_eq!(at, bytes.len(), "boxes do not tile the file: {boxes:?}");
    boxes
}

fn inspect(path: &Path) -> Inspected {
    let (discovered, duration) = common::discover(path);

    let line = format!(
        "filesrc location={} ! qtdemux ! identity name=demuxed ! decodebin ! appsink name=out sync=false",
        path.display()
    );
    let p = gst::parse::launch(&line)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let seen: Arc<std::sync::Mutex<Vec<bool>>> = Arc::default();
    let s2 = seen.clone();
    p.by_name("demuxed")
        .unwrap()
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                s2.lock()
                    .unwrap()
                    .push(!b.flags().contains(gst::BufferFlags::DELTA_UNIT));
            }
            gst::PadProbeReturn::Ok
        });
    let sink = p
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut decoded = 0;
    while sink.pull_sample().is_ok() {
        decoded += 1;
    }
    let errors = p
        .bus()
        .unwrap()
        .pop_filtered(&[gst::MessageType::Error])
        .map(|m| format!("{m:?}"));
    p.set_state(gst::State::Null).unwrap();
    assert_eq!(errors, None, "decoding {}", path.display());
    let seen = seen.lock().unwrap();
    Inspected {
        boxes: top_level_boxes(path),
        discovered,
        duration,
        units: seen.len(),
        first_is_key: seen.first().copied().unwrap_or(false),
        decoded,
    }
}

/// The longest B-frame reorder window of the test clips: x265's ultrafast preset at 10 fps
/// reorders by up to 0.4 s.
const REORDER: Duration = Duration::from_millis(450);

/// Expectations for one clip: asked at `start` with `s`, from footage with key frames every `gop`.
fn check(
    name: &str,
    codec: &str,
    path: &Path,
    r: &ClipResult,
    start: Duration,
    s: &ClipSettings,
    gop: Duration,
) {
    let from = start.saturating_sub(s.pre_roll);
    let frame = Duration::from_millis(120);
    assert!(r.first_pts <= from, "{name}: {r:?} starts after {from:?}");
    assert!(
        from - r.first_pts <= gop + frame,
        "{name}: {r:?} starts more than a GOP before {from:?}"
    );
    // The clip ends at the first unit presented at or after the end, in decode order: with
    // B-frames the pictures presented just before it come after it and stay out (the reorder
    // depth, [`REORDER`]).
    let end = (start + s.post_roll).min(r.first_pts + s.max_len);
    assert!(
        r.end_pts + REORDER >= end && r.end_pts <= end + frame,
        "{name}: {r:?} should end at {end:?}"
    );
    check_file(name, codec, path, r, 0);
}

/// What holds for every clip file, however it ended. A clip ended early (`stop`, a stall) may
/// end inside a B-frame reorder window: its last `undisplayed` units (at most) are decoded but
/// presented after the file's end, so the decoder drops them, and the clip's reported end (its
/// latest picture's) may lie up to the reorder depth beyond the file's duration (the pictures
/// between were not yet received).
fn check_file(name: &str, codec: &str, path: &Path, r: &ClipResult, undisplayed: usize) {
    let frame = Duration::from_millis(120);
    let reorder = if undisplayed > 0 {
        REORDER
    } else {
        Duration::ZERO
    };
    assert_eq!(r.bytes, std::fs::metadata(path).unwrap().len());
    let i = inspect(path);
    assert!(i.discovered.contains(codec), "{name}: {}", i.discovered);
    let at = |kind: &str| i.boxes.iter().position(|b| b == kind);
    assert!(
        matches!((at("moov"), at("mdat")), (Some(m), Some(d)) if m < d),
        "{name}: faststart puts moov before mdat: {:?}",
        i.boxes
    );
    let want = r.end_pts - r.first_pts;
    assert!(
        i.duration <= want + frame && want <= i.duration + frame + reorder,
        "{name}: the file lasts {:?}, the clip says {want:?}",
        i.duration
    );
    assert!(i.first_is_key, "{name}: the first unit is not a key frame");
    assert_eq!(i.units, r.frames, "{name}: every unit written is demuxed");
    assert!(
        i.decoded <= r.frames && i.decoded + undisplayed >= r.frames,
        "{name}: {} of {} units decoded",
        i.decoded,
        r.frames
    );
    let dir: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(dir.iter().all(|f| !f.ends_with(".part")), "{name}: {dir:?}");
}

#[test]
fn clip_of_an_h264_file_follows_the_post_roll_and_snapshot_of_its_frame() {
    let Some(file) = common::shared("media/pedestrians_pets2009_vtest_45-75s.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cam = file_camera("pets", file);
    let start = secs(6.0);
    let s = settings(2.0, 3.0);
    wait_for_stream_time(&cam, start);
    let path = dir.path().join("clips/pets.mp4");
    let t0 = Instant::now();
    let job = spawn_clip(&cam, start, s.clone(), path.clone(), Arc::default());
    // The native frame of "now" makes the snapshot, while the clip waits for its post-roll.
    let frame = cam.latest.snapshot().unwrap().expect("a decoded frame");
    let ann = Annotation {
        boxes: vec![([0.4, 0.3, 0.6, 0.8], "person #1".into())],
        caption: "pets INTRUSION 2026-12-04 07:00:05Z".into(),
        ..Annotation::default()
    };
    let size = write_snapshots(&frame, &ann, dir.path(), "inc-1", 85).unwrap();
    assert_eq!(size, (768, 576));
    assert!(dir.path().join("media/snapshots/inc-1.jpg").is_file());

    let r = job.join().unwrap().unwrap();
    let waited = t0.elapsed();
    cam.stop();
    assert!(
        waited >= secs(2.0),
        "the writer followed the post-roll as it arrived ({waited:?})"
    );
    check("pets", "H.264", &path, &r, start, &s, secs(3.0));
    // Key frames every 3 s from the stream's first frame, which the stream clock puts at 0.5 s
    // (DTS_LEAD): the clip starts at 3.5 s and ends at 9.0 s (5.5 s, 55 frames).
    assert_eq!(r.frames, 55, "{r:?}");
}

#[test]
fn clips_of_a_b_frame_file_are_bounded_by_max_len_and_by_stop() {
    let Some(file) = common::shared("media/traffic_motorway_overpass_degirum.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cam = file_camera("motorway", file);
    let start = secs(4.5);
    let full = settings(1.0, 2.5);
    let short = ClipSettings {
        max_len: secs(1.5),
        ..full.clone()
    };
    let long = ClipSettings {
        post_roll: secs(30.0),
        ..full.clone()
    };
    wait_for_stream_time(&cam, start);
    let stop = Arc::new(AtomicBool::new(false));
    let jobs = [
        ("full", &full, Arc::default()),
        ("short", &short, Arc::default()),
        ("stopped", &long, stop.clone()),
    ]
    .map(|(name, s, stop)| {
        let path = dir.path().join(format!("clips/{name}.mp4"));
        let job = spawn_clip(&cam, start, s.clone(), path.clone(), stop);
        (name, s, path, job)
    });
    // Shutdown arrives 1.5 s into the post-roll: that clip is finished with what it has.
    std::thread::sleep(secs(1.5));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = jobs
        .into_iter()
        .map(|(name, s, path, job)| (name, s, path, job.join().unwrap().unwrap()))
        .collect();
    cam.stop();
    for (name, s, path, r) in &results {
        if *name == "stopped" {
            // Ends where the stream was when stop came: after 4.5 s, well before 4.5 + 30 s.
            assert!(r.end_pts > start && r.end_pts < start + secs(4.0), "{r:?}");
            check_file(name, "H.264", path, r, 2);
            continue;
        }
        check(name, "H.264", path, r, start, s, secs(3.0));
    }
    // The short clip is max_len long (from the key frame at 3.07 s), within a frame.
    let short = &results[1].3;
    assert!(
        (short.end_pts - short.first_pts).abs_diff(secs(1.5)) <= secs(0.04),
        "{short:?}"
    );
}

#[test]
fn clip_of_an_rtsp_camera_encoded_live() {
    let Some(avi) = common::vtest_avi() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = TestCam::start(&TestCamOptions::new(avi)).unwrap();
    let cam = start(
        "vtest",
        &server.url(),
        None,
        &config(),
        5.0,
        320,
        Sink::Slot,
    );
    let start = secs(4.0);
    let s = settings(1.0, 2.0);
    wait_for_stream_time(&cam, start);
    let path = dir.path().join("clips/vtest.mp4");
    let r = spawn_clip(&cam, start, s.clone(), path.clone(), Arc::default())
        .join()
        .unwrap()
        .unwrap();
    cam.stop();
    server.stop();
    // The test camera's encoder puts a key frame about every 2 s.
    check("vtest", "H.264", &path, &r, start, &s, secs(2.2));
}

/// 8 s of GStreamer's test pattern as H.265 (x265's ultrafast preset: B-frames) in an MP4, with a
/// key frame every second.
fn h265_file(dir: &Path) -> PathBuf {
    let out = dir.join("h265.mp4");
    let line = format!(
        "videotestsrc num-buffers=80 pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 ! \
         x265enc speed-preset=ultrafast key-int-max=10 ! h265parse ! mp4mux ! filesink location={}",
        out.display()
    );
    common::run_pipeline(&line);
    out
}

#[test]
fn clip_of_an_h265_file_with_b_frames() {
    let dir = tempfile::tempdir().unwrap();
    let cam = file_camera("h265", h265_file(dir.path()));
    let start = secs(4.0);
    let s = settings(1.0, 2.0);
    wait_for_stream_time(&cam, start);
    let path = dir.path().join("clips/h265.mp4");
    let r = spawn_clip(&cam, start, s.clone(), path.clone(), Arc::default())
        .join()
        .unwrap()
        .unwrap();
    cam.stop();
    check("h265", "H.265", &path, &r, start, &s, secs(1.0));
}
