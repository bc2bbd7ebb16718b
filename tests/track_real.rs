//! The tracker on real footage with the default model: the motorway overpass clip, analysed at
//! 5 fps like a live camera. Every car that drives through should be one track (no id explosion),
//! and the cars on the main carriageway, which flows toward the camera, must have a velocity
//! pointing down the frame. The shared clip is required (loud skip outside CI).

mod common;

use std::collections::BTreeMap;

use vigil::analyze::Analyzer;
use vigil::detect::{Detector, DetectorConfig};
use vigil::ingest::{FileReader, ReaderOptions};
use vigil::track::TrackerConfig;

/// What the test keeps of each track: the matched observations (time s, bottom centre, velocity).
type Path = Vec<(f64, [f32; 2], [f32; 2])>;

#[test]
fn motorway_cars_keep_their_ids_and_drive_down_the_frame() {
    let Some(clip) = common::shared("media/traffic_motorway_overpass_degirum.mp4") else {
        return;
    };
    let detector = Detector::load(&DetectorConfig::for_model("yolov12n")).unwrap();
    let mut analyzer = Analyzer::new(detector, TrackerConfig::default());
    let car = analyzer.labels().iter().position(|l| l == "car").unwrap() as u16;
    let mut reader = FileReader::open(&clip, &ReaderOptions::default()).unwrap();
    let mut paths: BTreeMap<u64, (u16, Path)> = BTreeMap::new();
    let mut most_at_once = 0;
    while let Some(frame) = reader.next_frame().unwrap() {
        let tracks = analyzer.step(&frame, frame.pts).unwrap();
        let seen: Vec<_> = tracks.iter().filter(|t| t.is_matched()).collect();
        most_at_once = most_at_once.max(seen.iter().filter(|t| t.class_id == car).count());
        for t in seen {
            let e = paths.entry(t.id).or_insert((t.class_id, Vec::new()));
            e.0 = t.class_id;
            e.1.push((frame.pts.as_secs_f64(), t.bottom_centre(), t.velocity));
        }
    }
    let cars: Vec<&Path> = paths
        .values()
        .filter(|(c, _)| *c == car)
        .map(|(_, p)| p)
        .collect();
    // About ten cars drive through in 11 s, at most about five in view at once. One track per car
    // (plus a few that a detector misses for a while and re-finds) keeps the count near that; an
    // id explosion (a new id every few frames) would give several times as many.
    assert!(most_at_once >= 2, "the detector sees the traffic");
    assert!(
        (5..=20).contains(&cars.len()),
        "{} car tracks: {paths:?}",
        cars.len()
    );
    // Main carriageway: the left part of the frame (the far-right carriageway starts right of
    // x = 0.7 at the horizon). Tracks followed for at least 1 s there must move down the frame,
    // and their velocity, once the filter has settled (third observation on), must point down.
    let main: Vec<&&Path> = cars
        .iter()
        .filter(|p| p.iter().all(|(_, c, _)| c[0] < 0.7))
        .filter(|p| p.len() >= 4)
        .collect();
    assert!(main.len() >= 3, "{} main-carriageway tracks", main.len());
    for p in &main {
        let (first, last) = (p[0], p[p.len() - 1]);
        assert!(
            last.1[1] - first.1[1] > 0.1,
            "moves down the frame: {first:?} -> {last:?}"
        );
        let down = p[2..].iter().filter(|(_, _, v)| v[1] > 0.0).count();
        assert!(
            down * 10 >= (p.len() - 2) * 9,
            "velocity points down the frame: {p:?}"
        );
    }
}
