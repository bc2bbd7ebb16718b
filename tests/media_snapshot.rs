//! Incident snapshots from a real CCTV frame: both JPEGs decode to the frame's size, the
//! annotated one differs from the plain one where a box is drawn and nowhere far from the
//! drawing, nothing is left under a temporary name, and ids that try to leave the data
//! directory are refused before anything is written.

mod common;

use std::path::Path;

use vigil::error::ErrorKind;
use vigil::frame::Frame;
use vigil::media::{Annotation, write_snapshots};
use vigil::rules::geometry::Point;

/// The still as a frame with padded rows, as GStreamer hands them over.
fn still_frame() -> Option<Frame> {
    let path = common::shared("media/still_cctv_busstop_qeng.jpg")?;
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    Some(common::rgb_frame(img.as_raw(), w, h, 16))
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn diff(a: &image::RgbImage, b: &image::RgbImage, x: u32, y: u32) -> u32 {
    let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
    (0..3).map(|i| p[i].abs_diff(q[i]) as u32).sum()
}

#[test]
fn annotated_and_plain_snapshots_of_a_real_frame() {
    let Some(frame) = still_frame() else {
        return;
    };
    let (w, h) = (frame.width, frame.height);
    let dir = tempfile::tempdir().unwrap();
    let ann = Annotation {
        boxes: vec![([0.30, 0.40, 0.45, 0.90], "person #4".into())],
        zone: vec![
            Point::new(0.6, 0.5),
            Point::new(0.95, 0.5),
            Point::new(0.95, 0.95),
        ],
        line: None,
        caption: "busstop CROWD 2026-12-04 07:00:00Z".into(),
    };
    let size = write_snapshots(&frame, &ann, dir.path(), "inc-7", 85).unwrap();
    assert_eq!(size, (w, h));
    let snaps = dir.path().join("media/snapshots");
    let annotated = decode(&snaps.join("inc-7.jpg"));
    let plain = decode(&snaps.join("inc-7.raw.jpg"));
    assert_eq!(annotated.dimensions(), (w, h));
    assert_eq!(plain.dimensions(), (w, h));

    let original = image::open(common::shared("media/still_cctv_busstop_qeng.jpg").unwrap())
        .unwrap()
        .to_rgb8();
    // (pixel, drawn there?): strokes are 3 px wide at this size, so the drawn points are taken
    // one pixel inside each stroke, away from JPEG's blur at its sides.
    let px = |x: f64, y: f64| ((x * w as f64).round() as u32, (y * h as f64).round() as u32);
    let inside =
        |(x, y): (u32, u32), dx: i32, dy: i32| ((x as i32 + dx) as u32, (y as i32 + dy) as u32);
    let table = [
        (inside(px(0.30, 0.65), 1, 0), true),   // left edge of the box
        (inside(px(0.45, 0.65), -2, 0), true),  // right edge
        (inside(px(0.375, 0.90), 0, -2), true), // bottom edge
        (px(0.80, 0.50), true),                 // the zone's top edge
        (px(0.375, 0.65), false),               // inside the box
        (px(0.15, 0.70), false),                // far from everything
        (px(0.80, 0.30), false),
    ];
    for ((x, y), drawn) in table {
        let d = diff(&annotated, &plain, x, y);
        if drawn {
            assert!(d > 60, "({x}, {y}) should be drawn on: difference {d}");
        } else {
            assert!(d < 40, "({x}, {y}) should be untouched: difference {d}");
        }
    }
    // The caption's banner (33 rows at this size) darkens the top to a quarter, beside the text
    // too; a JPEG path that lost the full range (lifted blacks) fails here.
    let mean = |img: &image::RgbImage| {
        let sum: u64 = (2..30)
            .flat_map(|y| (700..w).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0.iter().map(|&v| v as u64).sum::<u64>())
            .sum();
        sum as f64 / (28 * (w - 700)) as f64
    };
    let (dark, bright) = (mean(&annotated), mean(&plain));
    assert!(
        bright > 60.0 && dark < bright / 4.0 + 8.0,
        "banner {dark:.1}, frame {bright:.1}"
    );
    // The plain frame is the frame, up to JPEG noise.
    let total: u64 = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| diff(&plain, &original, x, y) as u64)
        .sum();
    let mean = total as f64 / (w * h) as f64;
    assert!(
        mean < 12.0,
        "plain differs from the frame by {mean:.1} per pixel"
    );
    let names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["inc-7.jpg", "inc-7.raw.jpg"]);
}

#[test]
fn ids_that_leave_the_data_dir_are_refused() {
    let frame = common::rgb_frame(&[90u8; 64 * 48 * 3], 64, 48, 0);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for bad in [
        "../x",
        "../../etc/passwd",
        "a/b",
        "/abs",
        "",
        "..",
        "x.jpg",
        "A",
    ] {
        let e = write_snapshots(&frame, &Annotation::default(), &data, bad, 85).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
        assert!(e.to_string().contains("incident_id"), "{bad:?}: {e}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
    // A good id works on the same frame.
    assert_eq!(
        write_snapshots(&frame, &Annotation::default(), &data, "ok-1", 85).unwrap(),
        (64, 48)
    );
}
