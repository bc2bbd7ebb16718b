//! The incident rules on real footage with the default model, through the same per-frame steps as
//! `vigil analyze --rules` (detection, tracking, the camera file's rules), with zones drawn for
//! each scene in `tests/cameras/*.toml`:
//!
//! | clip | camera file | expected |
//! |---|---|---|
//! | PETS 2009 campus | `pets_lawn.toml` (the lawn restricted) | `INTRUSION` by people crossing it |
//! | PETS 2009 campus | `pets_corner.toml` (the building's facade) | nothing |
//! | motorway, as recorded | `motorway.toml` (main carriageway flows down) | no `WRONG_WAY` |
//! | motorway, frames reversed | the same | `WRONG_WAY` for cars on the main carriageway |
//! | urban street | `motorbikes.toml` (a line across the street) | motorcycle and car counts in a sane range |
//! | PETS 2009, blacked out / blurred from halfway | `pets_tamper.toml` | `CAMERA_TAMPERING` after halfway only |
//!
//! Tampering is judged on the view alone (thumbnails), so that case runs without the detector.
//!
//! The shared clips are required (loud skip outside CI).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vigil::analyze::{Analyzer, Format, OfflineRules, Printer};
use vigil::camera::CameraFile;
use vigil::detect::{Detector, DetectorConfig};
use vigil::frame::{Frame, Thumbnail};
use vigil::ingest::{FileReader, ReaderOptions};
use vigil::track::TrackerConfig;

fn camera(name: &str) -> CameraFile {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cameras")
        .join(name);
    CameraFile::load(&p).unwrap()
}

/// Every analysis frame of `clip` (5 fps, 640 wide), in order.
fn frames(clip: &Path) -> Vec<Frame> {
    let mut reader = FileReader::open(clip, &ReaderOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        out.push(f);
    }
    assert!(
        out.len() > 20,
        "{} frames from {}",
        out.len(),
        clip.display()
    );
    out
}

/// Runs detection and tracking over `frames` (stepped at their own times, or at 0.2 s steps when
/// `retime`), applying each camera file; returns, per camera file, the JSON lines of its incident
/// and count events.
fn run(frames: &[&Frame], retime: bool, cameras: &[CameraFile]) -> Vec<Vec<Value>> {
    let detector = Detector::load(&DetectorConfig::for_model("yolov12n")).unwrap();
    let mut analyzer = Analyzer::new(detector, TrackerConfig::default());
    let mut rules: Vec<(OfflineRules, Printer<Vec<u8>>)> = cameras
        .iter()
        .map(|c| {
            (
                OfflineRules::new(c, analyzer.labels()),
                Printer::new(Vec::new(), Format::Json),
            )
        })
        .collect();
    for (i, f) in frames.iter().enumerate() {
        let t = if retime {
            Duration::from_millis(200 * i as u64)
        } else {
            f.pts
        };
        let tracks = analyzer.step(f, t).unwrap().to_vec();
        let aspect = f64::from(f.width) / f64::from(f.height);
        let view = Thumbnail::from_frame(f);
        for (r, p) in &mut rules {
            r.step(t, aspect, &tracks, Some(&view), p).unwrap();
        }
    }
    rules
        .into_iter()
        .map(|(mut r, mut p)| {
            r.finish(&mut p).unwrap();
            String::from_utf8(p.into_inner())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .collect()
}

/// Tampering sees only the view (thumbnails), never the detections: runs the rules of `camera`
/// over `frames` with no tracks, without loading the detector; returns its JSON lines.
fn views_only(frames: &[&Frame], camera: &CameraFile) -> Vec<Value> {
    let mut rules = OfflineRules::new(camera, &[]);
    let mut p = Printer::new(Vec::new(), Format::Json);
    for f in frames {
        let aspect = f64::from(f.width) / f64::from(f.height);
        let view = Thumbnail::from_frame(f);
        rules.step(f.pts, aspect, &[], Some(&view), &mut p).unwrap();
    }
    rules.finish(&mut p).unwrap();
    String::from_utf8(p.into_inner())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn incidents<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "incident" && l["event"] == event)
        .collect()
}

fn shared_clip(name: &str) -> Option<PathBuf> {
    common::shared(&format!("media/{name}"))
}

#[test]
fn people_on_the_lawn_are_intruders_and_an_empty_zone_stays_quiet() {
    let Some(clip) = shared_clip("pedestrians_pets2009_vtest_45-75s.mp4") else {
        return;
    };
    let all = frames(&clip);
    let refs: Vec<&Frame> = all.iter().collect();
    let out = run(
        &refs,
        false,
        &[camera("pets_lawn.toml"), camera("pets_corner.toml")],
    );
    let (lawn, corner) = (&out[0], &out[1]);
    let opened = incidents(lawn, "opened");
    assert!(!opened.is_empty(), "no INTRUSION on the lawn: {lawn:?}");
    for o in &opened {
        assert_eq!(o["kind"], "INTRUSION");
        assert_eq!(o["zone"], "lawn");
        assert!(o["classes"].as_array().unwrap().contains(&"person".into()));
        assert!(!o["track_ids"].as_array().unwrap().is_empty());
        assert!(o["start_s"].as_f64().unwrap() <= o["t_s"].as_f64().unwrap());
    }
    // Every opened incident closes (at the latest when the clip ends), once.
    assert_eq!(incidents(lawn, "closed").len(), opened.len(), "{lawn:?}");
    // One incident per episode, not one per frame: a 30 s clip has a handful at most.
    assert!(opened.len() <= 6, "{} incidents: {lawn:?}", opened.len());
    assert!(corner.is_empty(), "the facade raised: {corner:?}");
}

#[test]
fn wrong_way_only_when_the_motorway_runs_backwards() {
    let Some(clip) = shared_clip("traffic_motorway_overpass_degirum.mp4") else {
        return;
    };
    let all = frames(&clip);
    let forward: Vec<&Frame> = all.iter().collect();
    let backward: Vec<&Frame> = all.iter().rev().collect();
    let cam = [camera("motorway.toml")];
    let as_recorded = &run(&forward, true, &cam)[0];
    assert!(
        incidents(as_recorded, "opened").is_empty(),
        "WRONG_WAY on traffic as recorded: {as_recorded:?}"
    );
    let reversed = &run(&backward, true, &cam)[0];
    let opened = incidents(reversed, "opened");
    // About ten cars drive through the main carriageway in 11 s; reversed, each one drives the
    // wrong way. One incident per vehicle: at least a few, never one per frame.
    assert!(
        (3..=20).contains(&opened.len()),
        "{} WRONG_WAY: {reversed:?}",
        opened.len()
    );
    for o in &opened {
        assert_eq!(o["kind"], "WRONG_WAY");
        assert_eq!(o["track_ids"].as_array().unwrap().len(), 1, "{o}");
    }
}

#[test]
fn street_line_counts_the_traffic_going_away() {
    let Some(clip) = shared_clip("traffic_urban_motorbikes_degirum.mp4") else {
        return;
    };
    let all = frames(&clip);
    let refs: Vec<&Frame> = all.iter().collect();
    let out = &run(&refs, false, &[camera("motorbikes.toml")])[0];
    let mut motorcycles = 0;
    let mut cars = 0;
    for c in out.iter().filter(|l| l["type"] == "count") {
        // Everything moves away from the camera (up the frame) across the line a -> b drawn left
        // to right: from the right of a -> b to its left as seen on screen.
        assert_eq!(c["direction"], "RIGHT_TO_LEFT", "{c}");
        match c["class"].as_str().unwrap() {
            "motorcycle" => motorcycles += 1,
            "car" => cars += 1,
            _ => {}
        }
    }
    // What a person counts in the 14.5 s clip: a dozen or more motorbikes and several cars pass.
    assert!((6..=40).contains(&motorcycles), "{motorcycles} motorcycles");
    assert!((2..=20).contains(&cars), "{cars} cars");
}

/// A copy of `f` whose pixels `edit` changed (RGB24, packed).
fn edited(f: &Frame, edit: impl Fn(&mut [u8], usize, usize)) -> Frame {
    let (w, h) = (f.width as usize, f.height as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in f.rgb().chunks(f.stride).take(h) {
        rgb.extend_from_slice(&row[..w * 3]);
    }
    edit(&mut rgb, w, h);
    Frame {
        seq: f.seq,
        pts: f.pts,
        arrived: f.arrived,
        width: f.width,
        height: f.height,
        stride: w * 3,
        data: Box::new(rgb),
    }
}

/// A strong box blur (radius `r` pixels), rows then columns.
fn blur(rgb: &mut [u8], w: usize, h: usize, r: usize) {
    let pass = |rgb: &mut [u8], n: usize, count: usize, at: &dyn Fn(usize, usize) -> usize| {
        let mut line = vec![[0u32; 3]; n];
        for k in 0..count {
            for (i, px) in line.iter_mut().enumerate() {
                let o = at(k, i);
                *px = [rgb[o].into(), rgb[o + 1].into(), rgb[o + 2].into()];
            }
            for i in 0..n {
                let (a, b) = (i.saturating_sub(r), (i + r).min(n - 1));
                let mut sum = [0u32; 3];
                for px in &line[a..=b] {
                    for c in 0..3 {
                        sum[c] += px[c];
                    }
                }
                let o = at(k, i);
                for c in 0..3 {
                    rgb[o + c] = (sum[c] / (b - a + 1) as u32) as u8;
                }
            }
        }
    };
    pass(rgb, w, h, &|y, x| (y * w + x) * 3);
    pass(rgb, h, w, &|x, y| (y * w + x) * 3);
}

#[test]
fn a_view_blacked_out_or_blurred_halfway_is_tampering() {
    let Some(clip) = shared_clip("pedestrians_pets2009_vtest_45-75s.mp4") else {
        return;
    };
    let all = frames(&clip);
    let half = all.len() / 2;
    let half_s = all[half].pts.as_secs_f64();
    let black: Vec<Frame> = all[half..]
        .iter()
        .map(|f| edited(f, |rgb, _, _| rgb.fill(4)))
        .collect();
    let blurred: Vec<Frame> = all[half..]
        .iter()
        .map(|f| edited(f, |rgb, w, h| blur(rgb, w, h, w / 25)))
        .collect();
    let cam = camera("pets_tamper.toml");
    let untouched: Vec<&Frame> = all.iter().collect();
    let quiet = views_only(&untouched, &cam);
    assert!(
        quiet.is_empty(),
        "the untouched clip raised tampering: {quiet:?}"
    );
    for (what, tail) in [("covered", &black), ("defocused", &blurred)] {
        let seq: Vec<&Frame> = all[..half].iter().chain(tail.iter()).collect();
        let out = &views_only(&seq, &cam);
        let opened = incidents(out, "opened");
        assert_eq!(opened.len(), 1, "{what}: {out:?}");
        let o = opened[0];
        assert_eq!(o["kind"], "CAMERA_TAMPERING");
        let start = o["start_s"].as_f64().unwrap();
        assert!(
            start >= half_s - 0.01 && start < half_s + 2.0,
            "{what}: started at {start} s, the view changed at {half_s} s"
        );
        assert!(o["summary"].as_str().unwrap().contains(what), "{what}: {o}");
    }
}
