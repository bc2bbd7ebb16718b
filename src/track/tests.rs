//! Scenario tests of the tracker on synthetic detections: crossing, occlusion, birth and death,
//! the low-confidence stage, class gating, velocity under noise and irregular frame times.

use std::time::Duration;

use super::tracker::iou;
use super::{Track, Tracker, TrackerConfig};
use crate::detect::Detection;

const PERSON: u16 = 0;
const CAR: u16 = 2;
const BUS: u16 = 5;
const TRUCK: u16 = 7;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A detection centred at (cx, cy) with size w x h.
fn det(class_id: u16, score: f32, cx: f64, cy: f64, w: f64, h: f64) -> Detection {
    Detection {
        class_id,
        score,
        bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0].map(|v| v as f32),
    }
}

fn centre(t: &Track) -> [f32; 2] {
    [(t.bbox[0] + t.bbox[2]) / 2.0, (t.bbox[1] + t.bbox[3]) / 2.0]
}

fn by_id(tracks: &[Track], id: u64) -> Option<&Track> {
    tracks.iter().find(|t| t.id == id)
}

/// Deterministic noise in -1..1 (xorshift), so the tests need no seed management.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Roughly normal with standard deviation 1 (sum of three uniforms).
    fn normal(&mut self) -> f64 {
        self.uniform() + self.uniform() + self.uniform()
    }
}

#[test]
fn crossing_objects_keep_their_ids() {
    // (name, vertical offset of B, frame interval pattern, drop B's detection while they overlap
    // as a detector's NMS would)
    let cases: &[(&str, f64, &[f64], bool)] = &[
        ("offset lanes", 0.05, &[0.2], false),
        ("same line", 0.0, &[0.2], false),
        ("same line, merged by nms", 0.0, &[0.2], true),
        (
            "offset, irregular frames",
            0.03,
            &[0.2, 0.4, 0.2, 0.2, 0.6],
            false,
        ),
        ("offset, merged, irregular", 0.02, &[0.2, 0.2, 0.4], true),
    ];
    for &(name, offset, dts, merge) in cases {
        let mut tr = Tracker::new(TrackerConfig::default());
        let (w, h, v) = (0.08, 0.2, 0.15);
        let mut t = 0.0;
        let mut ids = None;
        let mut k = 0;
        // Until they are 0.5 apart again, both still well inside the frame.
        while t < 3.7 {
            let (xa, xb) = (0.2 + v * t, 0.8 - v * t);
            let a = det(PERSON, 0.9, xa, 0.5, w, h);
            let b = det(PERSON, 0.8, xb, 0.5 + offset, w, h);
            let dets = if merge && iou(a.bbox, b.bbox) > 0.45 {
                vec![a]
            } else {
                vec![a, b]
            };
            let out = tr.update(secs(t), &dets);
            if ids.is_none() && out.len() == 2 {
                // Id of the one starting on the left, then of the one on the right.
                let left = if centre(&out[0])[0] < centre(&out[1])[0] {
                    0
                } else {
                    1
                };
                ids = Some((out[left].id, out[1 - left].id));
            }
            if let Some((ia, ib)) = ids {
                for (id, x) in [(ia, xa), (ib, xb)] {
                    if let Some(track) = by_id(out, id).filter(|t| t.is_matched()) {
                        assert!(
                            (centre(track)[0] as f64 - x).abs() < 0.03,
                            "{name}: frame {k}: track {id} at {:?}, object at x {x}",
                            centre(track)
                        );
                    }
                }
            }
            t += dts[k % dts.len()];
            k += 1;
        }
        let (ia, ib) = ids.unwrap_or_else(|| panic!("{name}: never confirmed both"));
        let out = tr.tracks();
        let (a, b) = (by_id(out, ia).unwrap(), by_id(out, ib).unwrap());
        assert!(a.is_matched() && b.is_matched(), "{name}: {out:?}");
        assert!(centre(a)[0] > 0.6 && a.velocity[0] > 0.1, "{name}: a {a:?}");
        assert!(
            centre(b)[0] < 0.4 && b.velocity[0] < -0.1,
            "{name}: b {b:?}"
        );
        assert_eq!(tr.ids_issued(), 2, "{name}: id explosion");
    }
}

#[test]
fn occlusion_of_a_few_frames_keeps_the_id() {
    // (name, class, velocity (x, y) per second, box (w, h), frames without any detection)
    type Case = (&'static str, u16, [f64; 2], [f64; 2], usize);
    let cases: &[Case] = &[
        ("car down, 3 frames", CAR, [0.0, 0.1], [0.1, 0.08], 3),
        ("car down, 8 frames", CAR, [0.0, 0.1], [0.1, 0.08], 8),
        ("fast car, 5 frames", CAR, [0.02, 0.18], [0.12, 0.1], 5),
        (
            "person walking, 6 frames",
            PERSON,
            [0.06, 0.0],
            [0.04, 0.12],
            6,
        ),
    ];
    for &(name, class, [vx, vy], [w, h], gap) in cases {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut id = None;
        for k in 0..(10 + gap + 6) {
            let t = k as f64 * 0.2;
            let (cx, cy) = (0.3 + vx * t, 0.1 + vy * t);
            let hidden = (10..10 + gap).contains(&k);
            let dets = if hidden {
                vec![]
            } else {
                vec![det(class, 0.85, cx, cy, w, h)]
            };
            let out = tr.update(secs(t), &dets);
            if k == 9 {
                assert_eq!(out.len(), 1, "{name}");
                id = Some(out[0].id);
            }
            if k >= 10 {
                assert_eq!(out.len(), 1, "{name}: frame {k}: {out:?}");
                let track = &out[0];
                assert_eq!(Some(track.id), id, "{name}: frame {k}");
                let want_misses = if hidden { k - 9 } else { 0 };
                assert_eq!(track.misses as usize, want_misses, "{name}: frame {k}");
                // While hidden the box follows the predicted motion.
                let [x, y] = centre(track);
                assert!(
                    (x as f64 - cx).abs() < 0.3 * w && (y as f64 - cy).abs() < 0.3 * h,
                    "{name}: frame {k}: box at {x},{y}, object at {cx},{cy}"
                );
            }
        }
        assert_eq!(tr.ids_issued(), 1, "{name}");
    }
}

#[test]
fn new_objects_get_new_ids_and_ids_are_never_reused() {
    let cfg = TrackerConfig {
        max_misses: 3,
        ..TrackerConfig::default()
    };
    let max_misses = cfg.max_misses as usize;
    let mut tr = Tracker::new(cfg);
    let mut t = 0.0;
    let mut step = |tr: &mut Tracker, dets: &[Detection]| {
        let out = tr.update(secs(t), dets).to_vec();
        t += 0.2;
        out
    };
    let obj = det(CAR, 0.9, 0.5, 0.5, 0.1, 0.08);
    let mut seen = Vec::new();
    for round in 0..3 {
        // The same place each time: a new object after the old track died.
        for _ in 0..5 {
            let out = step(&mut tr, &[obj]);
            seen.extend(out.iter().map(|t| t.id));
        }
        for _ in 0..=max_misses {
            step(&mut tr, &[]);
        }
        assert!(tr.tracks().is_empty(), "round {round}: {:?}", tr.tracks());
        // A one-frame false positive elsewhere never becomes a track nor uses up an id.
        assert!(step(&mut tr, &[det(CAR, 0.9, 0.1, 0.1, 0.1, 0.1)]).is_empty());
        step(&mut tr, &[]);
    }
    seen.dedup();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(tr.ids_issued(), 3);

    // A second object entering while the first is tracked gets the next id.
    let a = det(PERSON, 0.9, 0.2, 0.5, 0.05, 0.15);
    let b = det(PERSON, 0.9, 0.8, 0.5, 0.05, 0.15);
    for _ in 0..3 {
        step(&mut tr, &[a]);
    }
    let mut out = Vec::new();
    for _ in 0..3 {
        out = step(&mut tr, &[a, b]);
    }
    let ids: Vec<u64> = out.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![4, 5]);
}

#[test]
fn the_low_stage_keeps_a_flickering_detection() {
    // (name, score on every other frame, misses expected on those frames)
    let cases: &[(&str, f32, u32)] = &[
        ("above high", 0.7, 0),
        ("low band", 0.3, 0),
        ("at low threshold", 0.1, 0),
        ("below low threshold", 0.05, 1),
    ];
    for &(name, off, want_misses) in cases {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut id = None;
        for k in 0..20 {
            let t = k as f64 * 0.2;
            let score = if k >= 4 && k % 2 == 1 { off } else { 0.8 };
            let out = tr.update(secs(t), &[det(CAR, score, 0.5, 0.2 + 0.1 * t, 0.1, 0.08)]);
            if k < 2 {
                continue;
            }
            assert_eq!(out.len(), 1, "{name}: frame {k}");
            assert_eq!(*id.get_or_insert(out[0].id), out[0].id, "{name}: frame {k}");
            let want = if score == off { want_misses } else { 0 };
            assert_eq!(out[0].misses, want, "{name}: frame {k}");
            if out[0].is_matched() {
                assert_eq!(out[0].score, score, "{name}: frame {k}");
            }
        }
        assert_eq!(tr.ids_issued(), 1, "{name}");
    }
}

#[test]
fn low_detections_neither_start_tracks_nor_revive_lost_ones() {
    let mut tr = Tracker::new(TrackerConfig::default());
    let low = det(CAR, 0.3, 0.5, 0.5, 0.1, 0.08);
    for k in 0..10 {
        assert!(tr.update(secs(k as f64 * 0.2), &[low]).is_empty());
    }
    // Between high and new-track scores: matched to tracks but starts none.
    let mid = Detection { score: 0.55, ..low };
    for k in 10..20 {
        assert!(tr.update(secs(k as f64 * 0.2), &[mid]).is_empty());
    }

    let high = Detection { score: 0.9, ..low };
    for k in 20..25 {
        tr.update(secs(k as f64 * 0.2), &[high]);
    }
    tr.update(secs(5.0), &[]);
    // Lost for one frame: a low detection is not enough to take it back...
    let out = tr.update(secs(5.2), &[low]);
    assert_eq!((out.len(), out[0].misses), (1, 2));
    // ... a high one is, with the same id.
    let out = tr.update(secs(5.4), &[high]);
    assert_eq!((out.len(), out[0].id, out[0].misses), (1, 1, 0));
}

/// A car drives left to right past a person standing at x = 0.5; for two frames while they
/// overlap, the person hides the car from the detector. The person is detected from frame
/// `person_from` on. Returns the (car, person) ids and whether a track ever took a detection of
/// the other object (or an extra id appeared).
fn car_passes_person(cfg: TrackerConfig, person_from: usize) -> (u64, u64, bool) {
    let mut tr = Tracker::new(cfg);
    let (pw, ph, px, py) = (0.12, 0.22, 0.5, 0.55);
    let (cw, ch, cy) = (0.2, 0.12, 0.56);
    let (mut car_id, mut person_id) = (0, 0);
    let mut stolen = false;
    for k in 0..35 {
        let t = k as f64 * 0.2;
        let cx = 0.1 + 0.1 * t;
        let person = det(PERSON, 0.9, px, py, pw, ph);
        let car = det(CAR, 0.8, cx, cy, cw, ch);
        let car_seen = !(20..22).contains(&k);
        let person_seen = k >= person_from;
        let mut dets = Vec::new();
        dets.extend(car_seen.then_some(car));
        dets.extend(person_seen.then_some(person));
        let out = tr.update(secs(t), &dets);
        for track in out {
            match track.class_id {
                CAR if car_id == 0 => car_id = track.id,
                PERSON if person_id == 0 => person_id = track.id,
                _ => {}
            }
        }
        for (id, obj, seen) in [(car_id, car, car_seen), (person_id, person, person_seen)] {
            if let Some(track) = by_id(out, id).filter(|t| t.is_matched()) {
                stolen |= !seen || iou(track.bbox, obj.bbox) < 0.5;
            }
        }
    }
    (car_id, person_id, stolen || tr.ids_issued() != 2)
}

#[test]
fn a_person_and_a_car_overlapping_do_not_swap() {
    // (name, frame the person is first detected)
    let cases: &[(&str, usize)] = &[
        ("both tracked before they overlap", 0),
        ("person appears as the car is hidden", 20),
        ("person appears just before", 19),
    ];
    for &(name, person_from) in cases {
        let (car, person, stolen) = car_passes_person(TrackerConfig::default(), person_from);
        assert!(car != 0 && person != 0 && car != person, "{name}");
        assert!(!stolen, "{name}: a track took the other object's detection");
    }
    // The scenario is hard enough to matter: if person and car were allowed to share a track,
    // the coasting car track would take the new person's detection.
    let careless = TrackerConfig {
        class_groups: vec![vec![PERSON, CAR]],
        ..TrackerConfig::default()
    };
    assert!(
        car_passes_person(careless, 20).2,
        "the scenario did not tempt the tracker"
    );
}

#[test]
fn confusable_vehicle_classes_share_a_track_and_keep_the_majority_class() {
    let mut tr = Tracker::new(TrackerConfig::default());
    let classes = [CAR, CAR, TRUCK, CAR, BUS, TRUCK, CAR, CAR, TRUCK, CAR];
    for (k, &class) in classes.iter().enumerate() {
        let t = k as f64 * 0.2;
        let out = tr.update(secs(t), &[det(class, 0.8, 0.5, 0.3 + 0.1 * t, 0.12, 0.1)]);
        if k >= 2 {
            assert_eq!(out.len(), 1, "frame {k}");
            assert_eq!((out[0].id, out[0].class_id), (1, CAR), "frame {k}");
        }
    }
    // A truck seen with much higher confidence wins the vote.
    for k in 10..16 {
        let t = k as f64 * 0.2;
        tr.update(secs(t), &[det(TRUCK, 0.95, 0.5, 0.3 + 0.1 * t, 0.12, 0.1)]);
    }
    assert_eq!(tr.tracks()[0].class_id, TRUCK);
    assert_eq!(tr.ids_issued(), 1);
}

#[test]
fn velocity_is_measured_under_noise_and_irregular_frame_times() {
    // (name, bottom-centre velocity per second, box (w, h) at start, height growth per second,
    // jitter of each box edge as a fraction of the box size, largest error allowed at any frame in
    // box sizes per second: about 3.5 standard deviations of the filter's velocity error)
    type Case = (&'static str, [f64; 2], [f64; 2], f64, f64, f64);
    let cases: &[Case] = &[
        (
            "person walking down",
            [0.0, 0.08],
            [0.04, 0.12],
            0.0,
            0.03,
            0.25,
        ),
        (
            "car driving down, growing",
            [0.0, 0.12],
            [0.08, 0.06],
            0.02,
            0.03,
            0.25,
        ),
        ("car diagonal", [-0.06, 0.08], [0.1, 0.08], 0.0, 0.03, 0.25),
        (
            "car down, noisy detector",
            [0.0, 0.1],
            [0.1, 0.08],
            0.0,
            0.05,
            0.4,
        ),
        ("parked car", [0.0, 0.0], [0.1, 0.08], 0.0, 0.03, 0.25),
    ];
    // Analysis at 5 fps with dropped frames.
    let dts = [0.2, 0.2, 0.4, 0.2, 0.6, 0.2, 0.2, 0.4, 0.2];
    for &(name, [vx, vy], [w0, h0], growth, jitter, tol) in cases {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut t = 0.0;
        let (mut sum, mut n) = ([0.0f64; 2], 0);
        let mut k = 0;
        // About 5.5 s, 26 updates: the objects stay inside the frame.
        while t < 5.5 {
            let h = h0 + growth * t;
            let w = w0 * h / h0;
            let (bx, by) = (0.5 + vx * t, 0.2 + vy * t);
            let mut e = |size: f64| jitter * size * rng.normal();
            let b = [
                bx - w / 2.0 + e(w),
                by - h + e(h),
                bx + w / 2.0 + e(w),
                by + e(h),
            ];
            let d = Detection {
                class_id: CAR,
                score: 0.8,
                bbox: b.map(|v| v as f32),
            };
            let out = tr.update(secs(t), &[d]);
            assert!(k < 2 || out.len() == 1, "{name}: frame {k}");
            if k >= 10 {
                let [mx, my] = out[0].velocity.map(f64::from);
                assert!(
                    (mx - vx).abs() < tol * w && (my - vy).abs() < tol * h,
                    "{name}: frame {k}: velocity ({mx:.4}, {my:.4}), true ({vx}, {vy})"
                );
                sum[0] += mx;
                sum[1] += my;
                n += 1;
            }
            t += dts[k % dts.len()];
            k += 1;
        }
        let mean = sum.map(|s| s / n as f64);
        let tol = 0.05 * vx.hypot(vy).max(0.05);
        assert!(
            (mean[0] - vx).abs() < tol && (mean[1] - vy).abs() < tol,
            "{name}: mean velocity {mean:?}, true ({vx}, {vy})"
        );
    }
}

#[test]
fn tracks_die_after_max_misses() {
    for max_misses in [0u32, 1, 4, 15] {
        let cfg = TrackerConfig {
            max_misses,
            max_lost_s: 100.0,
            ..TrackerConfig::default()
        };
        let mut tr = Tracker::new(cfg);
        let d = det(PERSON, 0.9, 0.5, 0.5, 0.05, 0.15);
        for k in 0..3 {
            tr.update(secs(k as f64 * 0.2), &[d]);
        }
        assert_eq!(tr.tracks().len(), 1);
        for miss in 1..=max_misses + 1 {
            let out = tr.update(secs((2 + miss) as f64 * 0.2), &[]);
            if miss <= max_misses {
                assert_eq!(out.len(), 1, "max_misses {max_misses}, miss {miss}");
                assert_eq!(out[0].misses, miss);
                assert!(!out[0].is_matched());
            } else {
                assert!(
                    out.is_empty(),
                    "max_misses {max_misses}: alive after {miss}"
                );
            }
        }
        // Dead means dead: the same object again is a new track.
        for k in 0..3 {
            tr.update(secs(10.0 + k as f64 * 0.2), &[d]);
        }
        assert_eq!(tr.tracks()[0].id, 2, "max_misses {max_misses}");
    }
}

#[test]
fn tracks_die_after_max_lost_time_and_when_predicted_out_of_view() {
    let d = det(CAR, 0.9, 0.5, 0.5, 0.1, 0.08);
    let mut tr = Tracker::new(TrackerConfig::default());
    for k in 0..3 {
        tr.update(secs(k as f64 * 0.2), &[d]);
    }
    // One missed update, but 3.1 s of stream time: gone, and the next sighting is a new object.
    assert!(tr.update(secs(3.5), &[]).is_empty());
    let out = tr.update(secs(3.7), &[d]);
    assert!(out.is_empty(), "a dead track came back: {out:?}");

    // A car leaving at the right edge coasts off the frame and ends before max_misses.
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut t = 0.0;
    for k in 0..20 {
        let cx = 0.5 + 0.25 * t;
        let b = det(CAR, 0.9, cx, 0.5, 0.1, 0.08);
        let visible = cx - 0.05 < 0.95;
        let dets = if visible {
            vec![Detection {
                bbox: [b.bbox[0], b.bbox[1], b.bbox[2].min(1.0), b.bbox[3]],
                ..b
            }]
        } else {
            vec![]
        };
        let out = tr.update(secs(t), &dets);
        if cx - 0.05 > 1.1 {
            assert!(
                out.is_empty(),
                "frame {k}: still tracked off-frame: {out:?}"
            );
        }
        t += 0.2;
    }
    assert_eq!(tr.ids_issued(), 1);
}

#[test]
fn trajectory_is_bounded_and_holds_the_latest_points() {
    let cfg = TrackerConfig {
        trajectory_len: 5,
        ..TrackerConfig::default()
    };
    let mut tr = Tracker::new(cfg);
    for k in 0..30 {
        let t = k as f64 * 0.2;
        let dets = if k == 28 {
            vec![]
        } else {
            vec![det(PERSON, 0.9, 0.2 + 0.01 * t, 0.5, 0.05, 0.15)]
        };
        let out = tr.update(secs(t), &dets);
        if k >= 2 {
            let traj = &out[0].trajectory;
            assert!(traj.len() <= 5);
            assert_eq!(traj.len(), (k + 1).min(5), "frame {k}");
            assert!(traj.iter().zip(traj.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        }
    }
    let track = &tr.tracks()[0];
    // The last five matched updates (the coasting frame 28 added no point).
    let times: Vec<Duration> = track.trajectory.iter().map(|p| p.0).collect();
    let want: Vec<Duration> = [24, 25, 26, 27, 29]
        .iter()
        .map(|&k| secs(k as f64 * 0.2))
        .collect();
    assert_eq!(times, want);
    let last = track.trajectory.back().unwrap().1;
    assert_eq!(last, track.bottom_centre());
}

#[test]
fn tentative_tracks_are_not_reported_until_min_hits() {
    for min_hits in [1u32, 2, 3, 5] {
        let cfg = TrackerConfig {
            min_hits,
            ..TrackerConfig::default()
        };
        let mut tr = Tracker::new(cfg);
        for k in 0..6u32 {
            let out = tr.update(
                secs(f64::from(k) * 0.2),
                &[det(CAR, 0.9, 0.5, 0.5, 0.1, 0.1)],
            );
            assert_eq!(
                out.len(),
                usize::from(k + 1 >= min_hits),
                "min_hits {min_hits}, k {k}"
            );
            if let Some(t) = out.first() {
                assert_eq!((t.id, t.hits, t.first_seen), (1, k + 1, Duration::ZERO));
            }
        }
    }
    // A tentative track that misses once is dropped.
    let mut tr = Tracker::new(TrackerConfig::default());
    let d = det(CAR, 0.9, 0.5, 0.5, 0.1, 0.1);
    tr.update(secs(0.0), &[d]);
    tr.update(secs(0.2), &[d]);
    tr.update(secs(0.4), &[]);
    assert!(tr.update(secs(0.6), &[d]).is_empty());
}

#[test]
fn time_going_backwards_restarts_tracking_without_reusing_ids() {
    let mut tr = Tracker::new(TrackerConfig::default());
    let d = det(CAR, 0.9, 0.5, 0.5, 0.1, 0.1);
    for k in 0..4 {
        tr.update(secs(100.0 + k as f64 * 0.2), &[d]);
    }
    assert_eq!(tr.tracks()[0].id, 1);
    assert!(tr.update(secs(0.0), &[d]).is_empty());
    for k in 1..3 {
        tr.update(secs(k as f64 * 0.2), &[d]);
    }
    assert_eq!(tr.tracks()[0].id, 2);
    assert_eq!(tr.tracks()[0].first_seen, Duration::ZERO);
}

#[test]
fn invalid_detections_are_ignored() {
    let mut tr = Tracker::new(TrackerConfig::default());
    let good = det(CAR, 0.9, 0.5, 0.5, 0.1, 0.1);
    let bad = [
        Detection {
            score: f32::NAN,
            ..good
        },
        Detection {
            bbox: [f32::NAN, 0.1, 0.2, 0.2],
            ..good
        },
        Detection {
            bbox: [0.3, 0.3, 0.3, 0.4],
            ..good
        },
        Detection {
            bbox: [0.3, 0.4, 0.5, 0.2],
            ..good
        },
    ];
    for k in 0..5 {
        let mut dets = bad.to_vec();
        dets.push(good);
        let out = tr.update(secs(k as f64 * 0.2), &dets);
        assert!(out.iter().all(|t| t.bbox.iter().all(|v| v.is_finite())));
    }
    assert_eq!(tr.tracks().len(), 1);
    assert_eq!(tr.ids_issued(), 1);
}

#[test]
fn out_of_range_settings_are_brought_into_range() {
    let cfg = TrackerConfig {
        high_score: f32::NAN,
        low_score: 2.0,
        min_hits: 0,
        max_lost_s: f64::NAN,
        trajectory_len: 0,
        accel_noise: -1.0,
        ..TrackerConfig::default()
    };
    let tr = Tracker::new(cfg);
    let c = tr.config();
    assert_eq!(c.high_score, 0.5);
    assert_eq!(c.low_score, 0.5);
    assert_eq!(c.min_hits, 1);
    assert_eq!(c.max_lost_s, 3.0);
    assert_eq!(c.trajectory_len, 1);
    assert!(c.accel_noise > 0.0);
    c.validate("").unwrap();
}

#[test]
fn steady_state_updates_reuse_their_buffers() {
    let mut tr = Tracker::new(TrackerConfig::default());
    let frame = |k: usize| -> Vec<Detection> {
        (0..8)
            .map(|i| {
                det(
                    CAR,
                    0.9,
                    0.1 + 0.1 * i as f64,
                    0.2 + 0.002 * k as f64,
                    0.06,
                    0.05,
                )
            })
            .collect()
    };
    for k in 0..60 {
        tr.update(secs(k as f64 * 0.2), &frame(k));
    }
    let before = tr.capacities();
    for k in 60..120 {
        tr.update(secs(k as f64 * 0.2), &frame(k));
        assert_eq!(tr.capacities(), before, "frame {k}");
    }
    assert_eq!(tr.ids_issued(), 8);
}

#[test]
fn iou_of_hand_computed_boxes() {
    let cases: &[([f32; 4], [f32; 4], f32)] = &[
        ([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], 1.0),
        ([0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2], 1.0 / 3.0),
        ([0.0, 0.0, 0.2, 0.2], [0.2, 0.0, 0.4, 0.2], 0.0),
        ([0.0, 0.0, 0.4, 0.4], [0.1, 0.1, 0.3, 0.3], 0.25),
        ([0.0, 0.0, 0.0, 0.4], [0.0, 0.0, 0.0, 0.4], 0.0),
    ];
    for (a, b, want) in cases {
        assert!((iou(*a, *b) - want).abs() < 1e-6, "{a:?} {b:?}");
        assert!((iou(*b, *a) - want).abs() < 1e-6, "{a:?} {b:?}");
    }
}
