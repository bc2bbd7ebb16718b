//! `file://` cameras go through the same taps as RTSP ones: an H.264 MP4 (made here from
//! vtest.avi) streams at its own pace, and a codec vigil does not ingest (vtest.avi's MPEG-4
//! part 2) is reported on the status with a clear reason instead of crashing.

mod common;
mod ingest_util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ingest_util::{Sink, fast_config, rate, start_source};
use vigil::ingest::{CameraState, Source};

/// The first 80 frames of vtest.avi as H.264 in an MP4.
fn h264_clip(dir: &Path) -> Option<PathBuf> {
    let src = common::vtest_avi()?;
    let out = dir.join("h264.mp4");
    let line = format!(
        "filesrc location={} ! avidemux ! decodebin ! identity eos-after=80 ! videoconvert ! \
         x264enc speed-preset=ultrafast key-int-max=20 ! h264parse ! mp4mux ! filesink location={}",
        src.display(),
        out.display()
    );
    common::run_pipeline(&line);
    Some(out)
}

#[test]
fn mp4_file_streams_at_its_own_pace() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = h264_clip(dir.path()) else {
        return;
    };
    let source = Source::File {
        path,
        realtime: true,
    };
    let cfg = fast_config();
    let cam = start_source(
        "file",
        "file:///h264.mp4",
        source,
        &cfg,
        5.0,
        384,
        Sink::Record,
    );
    cam.wait_for(CameraState::Streaming, Duration::from_secs(30));
    let frames = cam.record_for(Duration::from_secs(3));
    let st = cam.status();
    assert_eq!((st.codec.as_str(), st.width, st.height), ("H264", 768, 576));
    assert!(frames.len() >= 8, "{} frames", frames.len());
    assert!(frames.iter().all(|f| (f.width, f.height) == (384, 288)));
    let r = rate(&frames);
    assert!((3.5..=5.75).contains(&r), "rate {r:.2}");
    // Real-time pace: stream time advances about as fast as the wall clock.
    let (a, b) = (frames[0], frames[frames.len() - 1]);
    let ratio = b.pts.saturating_sub(a.pts).as_secs_f64() / (b.at - a.at).as_secs_f64();
    assert!(
        (0.7..=1.4).contains(&ratio),
        "stream/wall time ratio {ratio:.2}"
    );
    let units = cam.ring.from_keyframe_before(Duration::ZERO).units;
    assert!(units.first().is_some_and(|(_, u)| u.keyframe));
    cam.stop();
}

#[test]
fn unsupported_codec_is_reported_not_crashed() {
    let Some(path) = common::vtest_avi() else {
        return;
    };
    let source = Source::File {
        path,
        realtime: true,
    };
    let cam = start_source(
        "mpeg4",
        "file:///vtest.avi",
        source,
        &fast_config(),
        5.0,
        320,
        Sink::Record,
    );
    let st = cam.wait_for(CameraState::Retrying, Duration::from_secs(30));
    assert!(st.last_error.contains("unsupported video codec"), "{st:?}");
    assert!(st.last_error.contains("H.264 and H.265"), "{st:?}");
    assert_eq!(st.frames_in, 0);
    cam.stop();
}
