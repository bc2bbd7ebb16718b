//! The demo's one-off transcode: Debian's MPEG-4 part 2 `vtest.avi` becomes an H.264 MP4 with
//! every frame, at the original size, readable by the same reader live cameras' frames go through.

mod common;

use vigil::ingest::{FileReader, ReaderOptions};
use vigil::media::transcode::to_h264_mp4;

#[test]
fn vtest_becomes_h264_with_every_frame() {
    let Some(src) = common::vtest_avi() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("media/vtest.mp4");
    to_h264_mp4(&src, &dst).unwrap();
    let mut r = FileReader::open(&dst, &ReaderOptions { fps: 0.0, width: 0 }).unwrap();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        assert_eq!((f.width, f.height), (768, 576));
        n += 1;
    }
    // vtest.avi has 795 frames.
    assert!((790..=800).contains(&n), "{n} frames");
    let entries: Vec<_> = std::fs::read_dir(dst.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["vtest.mp4"], "no temporary file is left");
    let (text, _) = common::discover(&dst);
    assert!(text.contains("H.264"), "{text}");
}
