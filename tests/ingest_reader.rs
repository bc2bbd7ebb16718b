//! The offline file reader: real files decoded through the analysis chain, every due frame
//! delivered at the analysis size and rate, clear errors for files that are not video.

mod common;

use std::time::Duration;

use vigil::ingest::{FileReader, ReaderOptions};

fn read_all(path: &std::path::Path, opts: &ReaderOptions) -> Vec<(Duration, u32, u32, usize)> {
    let mut r = FileReader::open(path, opts).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        assert!(f.rgb().len() >= f.stride * f.height as usize);
        assert!(f.stride >= f.width as usize * 3);
        out.push((f.pts, f.width, f.height, f.stride));
    }
    out
}

#[test]
fn vtest_is_read_at_the_analysis_rate_and_size() {
    let Some(path) = common::vtest_avi() else {
        return;
    };
    let frames = read_all(
        &path,
        &ReaderOptions {
            fps: 5.0,
            width: 640,
        },
    );
    // vtest.avi: 795 frames at 10 fps, 768x576 -> 640x480 at 5 fps: about 398 frames.
    assert!(
        (380..=410).contains(&frames.len()),
        "{} frames",
        frames.len()
    );
    assert!(
        frames.iter().all(|f| f.1 == 640 && f.2 == 480),
        "{:?}",
        frames[0]
    );
    for w in frames.windows(2) {
        let dt = w[1].0 - w[0].0;
        assert!(
            dt >= Duration::from_millis(150) && dt <= Duration::from_millis(250),
            "frames {:?} -> {:?}",
            w[0].0,
            w[1].0
        );
    }
}

#[test]
fn fractional_rates_and_native_size() {
    let Some(path) = common::vtest_avi() else {
        return;
    };
    let frames = read_all(&path, &ReaderOptions { fps: 2.5, width: 0 });
    assert!(
        (190..=205).contains(&frames.len()),
        "{} frames",
        frames.len()
    );
    assert!(frames.iter().all(|f| f.1 == 768 && f.2 == 576));
}

#[test]
fn clip_with_audio_track_gives_video_frames() {
    let Some(path) = common::shared("media/parkinglot_topdown_intel.mp4") else {
        return;
    };
    let mut r = FileReader::open(&path, &ReaderOptions::default()).unwrap();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        assert_eq!(f.width, 640);
        n += 1;
        if n == 10 {
            break;
        }
    }
    assert_eq!(n, 10);
}

#[test]
fn not_a_video_and_missing_file_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a_u8; 100_000]).unwrap();
    let err = match FileReader::open(&junk, &ReaderOptions::default()) {
        Err(e) => e,
        Ok(mut r) => r.next_frame().expect_err("junk decoded"),
    };
    assert!(err.to_string().contains("junk.mp4"), "{err}");
    let err = FileReader::open(&dir.path().join("nope.mp4"), &ReaderOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope.mp4: no such file"), "{err}");
}
