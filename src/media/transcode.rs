//! One-off transcoding of a video file GStreamer can decode (e.g. Debian's MPEG-4 part 2
//! `vtest.avi`) into an H.264 MP4 that the test camera can serve without re-encoding. Used by
//! `vigil demo` once per data directory; never on a live path. The output is written under a
//! temporary name and renamed when complete, so an interrupted run leaves no half file.

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::err;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::media::paths::{commit_partial, partial_path};

/// Key-frame interval of the output, in frames (2 s at 10 fps: clips start close to their
/// requested time).
const KEY_INT: u32 = 20;

/// Transcodes `src` to H.264 in MP4 at `dst` (video only). Blocking: seconds for a short clip.
pub fn to_h264_mp4(src: &Path, dst: &Path) -> Result<()> {
    crate::ingest::init()?;
    if !src.is_file() {
        return Err(err!(NotFound, "{}: no such file", src.display()));
    }
    let part = partial_path(dst);
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)
            .ctx(ErrorKind::Internal, format!("creating {}", dir.display()))?;
    }
    let desc = format!(
        "filesrc name=src ! decodebin ! videoconvert ! \
         x264enc speed-preset=veryfast key-int-max={KEY_INT} bframes=0 ! \
         video/x-h264,profile=main ! h264parse ! mp4mux faststart=true ! filesink name=sink"
    );
    let pipeline = gst::parse::launch(&desc)
        .ctx(
            ErrorKind::FailedPrecondition,
            "building the transcoder (run scripts/setup: x264enc is in gstreamer1.0-plugins-ugly)",
        )?
        .downcast::<gst::Pipeline>()
        .map_err(|_| err!(Internal, "the transcoder is not a pipeline"))?;
    let set = |name: &str, prop: &str, value: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| err!(Internal, "transcoder element {name} missing"))
            .map(|e| e.set_property(prop, value))
    };
    set("src", "location", &src.to_string_lossy())?;
    set("sink", "location", &part.to_string_lossy())?;
    let result = run_to_eos(&pipeline, src);
    let _ = pipeline.set_state(gst::State::Null);
    match result {
        Ok(()) => commit_partial(&part, dst).inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn run_to_eos(pipeline: &gst::Pipeline, src: &Path) -> Result<()> {
    pipeline.set_state(gst::State::Playing).map_err(|_| {
        err!(
            InvalidArgument,
            "{}: cannot start transcoding",
            src.display()
        )
    })?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| err!(Internal, "the transcoder has no bus"))?;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(..) => return Ok(()),
            gst::MessageView::Error(e) => {
                return Err(err!(
                    InvalidArgument,
                    "{}: cannot transcode: {}",
                    src.display(),
                    e.error()
                ));
            }
            _ => {}
        }
    }
    Err(err!(Internal, "the transcoder's bus closed before the end"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_video_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("notes.txt");
        std::fs::write(&src, "not a video").unwrap();
        let dst = dir.path().join("out.mp4");
        let e = to_h264_mp4(&src, &dst).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        assert!(!dst.exists() && !partial_path(&dst).exists());
        let missing = to_h264_mp4(&dir.path().join("none.avi"), &dst).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }
}
