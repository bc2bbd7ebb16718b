//! Live ingest over loopback: the test camera serves real clips over RTSP, the camera's supervised
//! pipeline reaches STREAMING and delivers analysis frames of the configured size at about the
//! configured rate, and the encoded ring holds the pre-roll from a key frame with increasing
//! decode times. Clips: H.264 with B-frames, a clip with an audio track, an H.265 re-encode made
//! here, and (always available) Debian's vtest.avi transcoded on the fly.

mod common;
mod ingest_util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ingest_util::{Sink, fast_config, rate, start, start_source};
use vigil::camera::Transport;
use vigil::ingest::{CameraState, Source, TestCam, TestCamOptions};

const FPS: f64 = 5.0;
const WIDTH: u32 = 320;

/// Streams `file` through the test camera and checks both taps; returns the codec seen.
fn check_clip(file: &Path, expect_codec: &str) {
    let cam_server = TestCam::start(&TestCamOptions::new(file)).unwrap();
    let cfg = fast_config();
    let cam = start(
        "cam",
        &cam_server.url(),
        None,
        &cfg,
        FPS,
        WIDTH,
        Sink::Record,
    );
    let st = cam.wait_for(CameraState::Streaming, Duration::from_secs(45));
    let frames = cam.record_for(Duration::from_secs(5));
    let st_after = cam.status();
    let name = file.display();
    assert_eq!(
        st_after.state,
        CameraState::Streaming,
        "{name}: {st_after:?}"
    );
    assert_eq!(st_after.codec, expect_codec, "{name}");
    assert!(st_after.width > 0 && st_after.height > 0, "{name}: {st:?}");
    // Size: the analysis width, the height by the native aspect ratio (even, as scalers round).
    let want_h = (WIDTH as f64 * st_after.height as f64 / st_after.width as f64).round();
    assert!(
        frames.len() >= 10,
        "{name}: only {} analysis frames in 5 s",
        frames.len()
    );
    for f in &frames {
        assert_eq!(f.width, WIDTH, "{name}");
        assert!(
            (f.height as f64 - want_h).abs() <= 2.0,
            "{name}: {} vs {want_h}",
            f.height
        );
    }
    let r = rate(&frames);
    assert!(
        (FPS * 0.7..=FPS * 1.15).contains(&r),
        "{name}: analysis rate {r:.2}"
    );
    assert!(
        frames
            .windows(2)
            .all(|w| w[0].pts < w[1].pts && w[0].seq < w[1].seq)
    );
    // The encoded tap: at least the pre-roll, from a key frame, decode times increasing.
    let units = cam.ring.from_keyframe_before(Duration::ZERO).units;
    assert!(!units.is_empty(), "{name}: empty ring");
    assert!(units[0].1.keyframe, "{name}: ring starts on a delta frame");
    let span = units.last().unwrap().1.pts.saturating_sub(units[0].1.pts);
    assert!(
        span >= cfg.pre_roll() - Duration::from_millis(200),
        "{name}: ring spans {span:?}"
    );
    let dts: Vec<Duration> = units.iter().map(|(_, u)| u.dts.unwrap_or(u.pts)).collect();
    let dbg: Vec<_> = units
        .iter()
        .take(12)
        .map(|(_, u)| (u.pts.as_millis(), u.dts.map(|d| d.as_millis()), u.keyframe))
        .collect();
    assert!(
        dts.windows(2).all(|w| w[0] < w[1]),
        "{name}: dts not increasing {dbg:?}"
    );
    assert!(units.iter().all(|(_, u)| u.codec.as_str() == expect_codec));
    // A snapshot at native size (at most 1920 wide), converted only now.
    let snap = cam.latest.snapshot().unwrap().expect("a decoded frame");
    assert_eq!(snap.width, st_after.width.min(1920) & !1, "{name}");
    assert_eq!(snap.rgb().len(), snap.stride * snap.height as usize);
    cam.stop();
    cam_server.stop();
}

#[test]
fn h264_with_b_frames() {
    let Some(f) = common::shared("media/traffic_motorway_overpass_degirum.mp4") else {
        return;
    };
    check_clip(&f, "H264");
}

#[test]
fn clip_with_audio_track() {
    let Some(f) = common::shared("media/parkinglot_topdown_intel.mp4") else {
        return;
    };
    check_clip(&f, "H264");
}

#[test]
fn vtest_avi_transcoded() {
    let Some(f) = common::vtest_avi() else {
        return;
    };
    check_clip(&f, "H264");
}

/// Re-encodes the first 60 frames of vtest.avi to H.265 in an MP4.
fn h265_clip(dir: &Path) -> Option<PathBuf> {
    let src = common::vtest_avi()?;
    let out = dir.join("h265.mp4");
    let line = format!(
        "filesrc location={} ! avidemux ! decodebin ! identity eos-after=60 ! videoconvert ! \
         x265enc speed-preset=ultrafast key-int-max=20 ! h265parse ! mp4mux ! filesink location={}",
        src.display(),
        out.display()
    );
    common::run_pipeline(&line);
    Some(out)
}

#[test]
fn h265_reencode() {
    let dir = tempfile::tempdir().unwrap();
    let Some(f) = h265_clip(dir.path()) else {
        return;
    };
    check_clip(&f, "H265");
}

#[test]
fn rtp_over_udp() {
    let Some(f) = common::vtest_avi() else {
        return;
    };
    let server = TestCam::start(&TestCamOptions::new(&f)).unwrap();
    let source = Source::Rtsp {
        url: server.url(),
        credentials: None,
        transport: Transport::Udp,
    };
    let cam = start_source(
        "udp",
        &server.url(),
        source,
        &fast_config(),
        FPS,
        WIDTH,
        Sink::Record,
    );
    cam.wait_for(CameraState::Streaming, Duration::from_secs(45));
    let frames = cam.record_for(Duration::from_secs(3));
    let r = rate(&frames);
    assert!(
        (FPS * 0.7..=FPS * 1.15).contains(&r),
        "UDP analysis rate {r:.2}"
    );
    cam.stop();
    server.stop();
}
