//! Loading detectors: by name through the committed manifests, and the errors a user sees when the
//! weights are missing or wrong or the manifest does not fit the model. Then detection on a
//! `Frame` with the default class filter, and a bad frame that fails without breaking the
//! detector. Uses YOLOX-nano from the shared folder.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use vigil::detect::{Detector, DetectorConfig, Manifest};
use vigil::error::ErrorKind;
use vigil::frame::Frame;

fn manifest_text() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/yolox_nano.toml");
    std::fs::read_to_string(p).unwrap()
}

/// The yolox_nano manifest as if it lived in `dir`, with `edit` applied to its text.
fn manifest_in(dir: &Path, edit: impl Fn(String) -> String) -> Manifest {
    let path = dir.join("yolox_nano.toml");
    Manifest::parse(&edit(manifest_text()), &path, None).unwrap()
}

fn load_err(m: Manifest) -> (ErrorKind, String) {
    let e = Detector::from_manifest(m, &DetectorConfig::for_model("yolox_nano")).unwrap_err();
    (e.kind(), e.to_string())
}

fn yolox() -> Option<PathBuf> {
    common::shared("models/yolox_nano.onnx")
}

#[test]
fn missing_or_wrong_weights_say_how_to_get_them() {
    let Some(onnx) = yolox() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (kind, msg) = load_err(manifest_in(dir.path(), |t| t));
    assert_eq!(kind, ErrorKind::FailedPrecondition);
    assert!(
        msg.contains("weights not found")
            && msg.contains(&dir.path().join("yolox_nano.onnx").display().to_string())
            && msg.contains("copy yolox_nano.onnx from the shared models folder"),
        "{msg}"
    );
    // The yolov12n sha256 for the yolox file: a different model.
    let file = format!("file = {:?}", onnx.display().to_string());
    let wrong = manifest_in(dir.path(), |t| {
        t.replace("file = \"yolox_nano.onnx\"", &file).replace(
            "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
            "e548ab3a406227202334bf5a6623c9814ac6286ff04e68aeb4dc2357732d1a4f",
        )
    });
    let (kind, msg) = load_err(wrong);
    assert_eq!(kind, ErrorKind::FailedPrecondition);
    assert!(
        msg.contains("has sha256 695e750a") && msg.contains("expects e548ab3a"),
        "{msg}"
    );
}

#[test]
fn a_manifest_that_does_not_fit_the_model_names_the_field() {
    let Some(onnx) = yolox() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = format!("file = {:?}", onnx.display().to_string());
    let cases: [(&str, &str, &str); 4] = [
        (
            "name = \"images\"",
            "name = \"input\"",
            "input.name: \"input\" is not an input",
        ),
        (
            "width = 416",
            "width = 640",
            "input: the model takes [1, 3, 416, 416]",
        ),
        (
            "name = \"output\"",
            "name = \"output0\"",
            "output.name: \"output0\"",
        ),
        (
            "format = \"yolox\"\nstrides = [8, 16, 32]",
            "format = \"yolov8\"",
            "output: the model gives [1, 3549, 85]",
        ),
    ];
    for (from, to, want) in cases {
        let m = manifest_in(dir.path(), |t| {
            t.replace("file = \"yolox_nano.onnx\"", &file)
                .replace(from, to)
        });
        let (kind, msg) = load_err(m);
        assert_eq!(kind, ErrorKind::InvalidArgument, "{msg}");
        assert!(msg.contains(want), "{to}: {msg}");
    }
}

#[test]
fn detects_road_users_in_a_frame_and_survives_a_bad_one() {
    let Some(onnx) = yolox() else { return };
    let Some(still) = common::shared("media/still_cctv_busstop_qeng.jpg") else {
        return;
    };
    let mut manifest = Manifest::find("yolox_nano").unwrap();
    manifest.model_file = onnx;
    let config = DetectorConfig {
        intra_threads: 2,
        ..DetectorConfig::for_model("yolox_nano")
    };
    let mut det = Detector::from_manifest(manifest, &config).unwrap();
    assert_eq!(det.labels()[7], "truck");

    // A frame whose rows are padded to a 64-byte stride.
    let rgb = image::open(still).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    let stride = (w as usize * 3).next_multiple_of(64);
    let mut data = vec![0u8; stride * h as usize];
    for (dst, src) in data
        .chunks_mut(stride)
        .zip(rgb.as_raw().chunks(w as usize * 3))
    {
        dst[..src.len()].copy_from_slice(src);
    }
    let frame = Frame {
        seq: 0,
        pts: Duration::ZERO,
        arrived: SystemTime::now(),
        width: w,
        height: h,
        stride,
        data: Box::new(data),
    };
    let dets = det.detect(&frame).unwrap().to_vec();
    let road_users = [0, 1, 2, 3, 5, 7];
    assert!(
        dets.iter()
            .all(|d| road_users.contains(&d.class_id) && d.score >= 0.3)
    );
    let people = dets.iter().filter(|d| d.class_id == 0).count();
    assert!(
        (5..=20).contains(&people),
        "about 12 people at the bus stop: {dets:?}"
    );
    assert!(
        dets.iter().any(|d| d.class_id == 1),
        "the shared bicycle: {dets:?}"
    );
    for d in &dets {
        let [x1, y1, x2, y2] = d.bbox;
        assert!(0.0 <= x1 && x1 < x2 && x2 <= 1.0 && 0.0 <= y1 && y1 < y2 && y2 <= 1.0);
    }
    assert!(det.last_times().infer > Duration::ZERO);

    // The same pixels tightly packed give the same detections.
    let tight = det
        .detect_rgb(rgb.as_raw(), w, h, w as usize * 3)
        .unwrap()
        .to_vec();
    assert_eq!(tight, dets);

    let e = det
        .detect_rgb(&rgb.as_raw()[..100], w, h, w as usize * 3)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("needs"), "{e}");
    assert_eq!(det.detect(&frame).unwrap(), &dets[..]);
}

#[test]
fn an_unknown_model_name_lists_where_it_looked() {
    let e = Detector::load(&DetectorConfig::for_model("yolo_nonexistent")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("yolo_nonexistent.toml"), "{e}");
}
