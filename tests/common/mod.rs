//! Helpers shared by the integration tests: where the shared footage and models are, the
//! registry-shipped fallbacks a fresh clone has, and the loud skip rule.
//!
//! Shared data lives in `../shared` beside the repository (override with `VIGIL_SHARED_DIR`).
//! A fresh clone has no `../shared`: tests that need it print a loud `SKIPPED` line naming what is
//! missing and return, except under CI (`CI=true`), where a missing file fails the test.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

/// The shared data folder: `VIGIL_SHARED_DIR` or `../shared` beside the repository.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("VIGIL_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// True when running under CI, where nothing may be skipped.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A file under the shared folder (for example `media/traffic_motorway_overpass_degirum.mp4`),
/// or `None` after a loud skip message when it is missing outside CI. Panics under CI.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = shared_dir().join(rel);
    if path.is_file() {
        return Some(path);
    }
    skip(&format!(
        "{} is missing (set VIGIL_SHARED_DIR to the shared folder)",
        path.display()
    ))
}

/// Debian's `opencv-doc` clip, which setup installs: footage a fresh clone always has.
pub fn vtest_avi() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/share/doc/opencv-doc/examples/data/vtest.avi");
    if path.is_file() {
        return Some(path);
    }
    skip(&format!(
        "{} is missing (run scripts/setup: package opencv-doc)",
        path.display()
    ))
}

/// The default model setup installs (`models/yolov12n.onnx`, or `VIGIL_MODELS_DIR`).
pub fn default_model_dir() -> PathBuf {
    match std::env::var_os("VIGIL_MODELS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
    }
}

/// The two bundled models and their weights when present: YOLOX-nano from the shared folder
/// (with a loud skip line when missing), YOLOv12n from the models folder setup fills.
pub fn bundled_models() -> [(&'static str, Option<PathBuf>); 2] {
    [
        ("yolox_nano", shared("models/yolox_nano.onnx")),
        ("yolov12n", {
            let p = default_model_dir().join("yolov12n.onnx");
            p.is_file().then_some(p)
        }),
    ]
}

/// The bundled models whose weights are present, each with its manifest pointed at them; a
/// missing one is named on standard output and left out.
pub fn bundled_manifests() -> Vec<(&'static str, vigil::detect::manifest::Manifest)> {
    let mut out = Vec::new();
    for (name, onnx) in bundled_models() {
        let Some(onnx) = onnx else {
            println!("{name}: weights missing, skipped");
            continue;
        };
        let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
        let mut manifest = vigil::detect::manifest::Manifest::load(&toml).expect("manifest");
        manifest.model_file = onnx;
        out.push((name, manifest));
    }
    out
}

/// The median of `runs` timings of `f` after three warm-up calls (benchmarks).
pub fn median(runs: usize, mut f: impl FnMut() -> std::time::Duration) -> std::time::Duration {
    for _ in 0..3 {
        f();
    }
    let mut v: Vec<std::time::Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    v[v.len() / 2]
}

/// Prints a loud skip line and returns `None`; under CI it panics instead.
pub fn skip<T>(why: &str) -> Option<T> {
    if under_ci() {
        panic!("CI=true and a test input is missing: {why}");
    }
    eprintln!("\n*** SKIPPED: {why} ***\n");
    None
}

/// A frame of packed RGB24 pixels (`width * 3` bytes per row) with `pad` bytes added to each row,
/// as GStreamer hands frames over.
pub fn rgb_frame(rgb: &[u8], width: u32, height: u32, pad: usize) -> vigil::frame::Frame {
    let row = width as usize * 3;
    let stride = row + pad;
    let mut data = vec![0u8; stride * height as usize];
    for (dst, src) in data.chunks_mut(stride).zip(rgb.chunks(row)) {
        dst[..src.len()].copy_from_slice(src);
    }
    vigil::frame::Frame {
        seq: 0,
        pts: std::time::Duration::ZERO,
        arrived: std::time::SystemTime::now(),
        width,
        height,
        stride,
        data: Box::new(data),
    }
}

/// Runs a `gst-launch`-style pipeline (e.g. one that encodes a test file) to its end; panics on
/// an error or after two minutes.
pub fn run_pipeline(line: &str) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    vigil::ingest::init().unwrap();
    let p = gst::parse::launch(line).unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let msg = p
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap_or_else(|| panic!("timed out: {line}"));
    p.set_state(gst::State::Null).unwrap();
    assert!(
        matches!(msg.view(), gst::MessageView::Eos(_)),
        "{line}: {msg:?}"
    );
}

/// Settings of a server on loopback: gRPC and HTTP on free ports, data in `dir`, defaults else.
pub fn loopback(dir: impl Into<PathBuf>) -> vigil::config::Settings {
    vigil::config::Config::default()
        .resolve(vigil::config::Overrides {
            grpc_addr: Some("127.0.0.1:0".into()),
            http_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.into()),
            log_format: None,
        })
        .expect("default settings resolve")
}

/// `gst-discoverer-1.0`'s report of a media file: its text, and the duration it states.
pub fn discover(path: &Path) -> (String, std::time::Duration) {
    let out = std::process::Command::new("gst-discoverer-1.0")
        .arg(path)
        .output()
        .expect("gst-discoverer-1.0 (run scripts/setup)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Duration: "))
        .unwrap_or_else(|| panic!("no duration in {text}"));
    let secs = line
        .split(':')
        .map(|p| {
            p.parse::<f64>()
                .unwrap_or_else(|_| panic!("bad duration {line}"))
        })
        .fold(0.0, |acc, v| acc * 60.0 + v);
    (text, std::time::Duration::from_secs_f64(secs))
}

/// An OPENED rule event as a rule engine submits it: camera `gate-1`, rule `r1`, an INTRUSION
/// (warning) in zone `lawn` from 1 s, seen at 2 s; override fields with struct update syntax.
pub fn opened_event(key: u64, summary: String) -> vigil::rules::RuleEvent {
    use std::time::Duration;
    vigil::rules::RuleEvent {
        camera_id: "gate-1".into(),
        rule_id: "r1".into(),
        kind: vigil::rules::spec::IncidentKind::Intrusion,
        severity: vigil::rules::spec::Severity::Warning,
        zone_id: "lawn".into(),
        key,
        phase: vigil::rules::Phase::Opened,
        start: Duration::from_secs(1),
        end: None,
        at: Duration::from_secs(2),
        wall: std::time::SystemTime::now(),
        objects: vec![],
        peak: std::collections::BTreeMap::new(),
        summary,
    }
}
