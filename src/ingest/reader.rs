//! Reading a video file (or any stream GStreamer can open by URI) frame by frame for offline analysis (`vigil analyze`, tests, benchmarks).
//! Unlike a live camera, nothing may be dropped here for lack of time: the consumer pulls each
//! analysis frame and the pipeline waits (appsink without dropping). The chain is the analysis
//! tap's: decode -> drop to the analysis rate -> scale -> convert to RGB, so a file is analysed
//! exactly as a live camera would be.

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::chain::{
    RateGate, analysis_elements, analysis_sink, frame_from_sample, make, sample_pts,
};
use crate::err;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::Frame;

/// How a file is turned into analysis frames.
#[derive(Clone, Debug)]
pub struct ReaderOptions {
    /// Analysis frames per second (frames are dropped, never duplicated); 0 = every frame.
    pub fps: f64,
    /// Analysis width; the height follows the display aspect ratio. 0 = native size.
    pub width: u32,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            fps: 5.0,
            width: 640,
        }
    }
}

/// Frames of one file, pulled one at a time. The pipeline is set to `NULL` on drop.
pub struct FileReader {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    seq: u64,
    done: bool,
    name: String,
    /// Keeps fractional analysis rates exact by pts.
    gate: RateGate,
}

/// How long one pull waits before looking at the bus for errors.
const POLL: gst::ClockTime = gst::ClockTime::from_mseconds(200);

impl FileReader {
    /// Opens `path` and starts decoding. Errors name the file.
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<FileReader> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(err!(InvalidArgument, "{name}: no such file"));
        }
        let abs = std::fs::canonicalize(path).map_err(|e| err!(InvalidArgument, "{name}: {e}"))?;
        let uri = url::Url::from_file_path(&abs)
            .map_err(|_| err!(InvalidArgument, "{name}: not a usable file path"))?;
        Self::open_uri(uri.as_str(), &name, opts)
    }

    /// Opens a URI (`file://`, `rtsp://`, ...) and starts decoding; `name` is used in errors and
    /// must not contain credentials. A live stream never ends by itself.
    pub fn open_uri(uri: &str, name: &str, opts: &ReaderOptions) -> Result<FileReader> {
        super::init()?;
        let name = name.to_string();
        if !(0.0..=120.0).contains(&opts.fps) || !opts.fps.is_finite() {
            return Err(err!(InvalidArgument, "fps: {} is not in 0..120", opts.fps));
        }
        let decode = make("uridecodebin")?;
        decode.set_property("uri", uri);
        let (chain, caps) = analysis_elements(opts.fps, opts.width)?;
        let sink = analysis_sink(&caps, false);
        let pipeline = gst::Pipeline::new();
        let mut elements: Vec<&gst::Element> = chain.iter().collect();
        elements.push(sink.upcast_ref());
        pipeline
            .add(&decode)
            .and_then(|_| pipeline.add_many(elements.iter().copied()))
            .ctx(ErrorKind::Internal, "building the file pipeline")?;
        gst::Element::link_many(elements.iter().copied())
            .ctx(ErrorKind::Internal, "linking the analysis chain")?;
        let rate_sink = chain[0]
            .static_pad("sink")
            .ok_or_else(|| err!(Internal, "videorate has no sink pad"))?;
        decode.connect_pad_added(move |_, pad| {
            let is_video = pad
                .current_caps()
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            if is_video && !rate_sink.is_linked() {
                let _ = pad.link(&rate_sink);
            }
        });
        let reader = FileReader {
            pipeline,
            sink,
            seq: 0,
            done: false,
            name,
            gate: RateGate::new(opts.fps),
        };
        reader
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| reader.bus_error("cannot start decoding"))?;
        Ok(reader)
    }

    /// The next analysis frame, or `None` at the end of the file. Blocks until one is decoded.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if let Some(sample) = self.sink.try_pull_sample(POLL) {
                let pts = sample_pts(&sample);
                if !self.gate.admit(pts) {
                    continue;
                }
                let frame = frame_from_sample(&sample, self.seq, pts, &self.name)?;
                self.seq += 1;
                return Ok(Some(frame));
            }
            if self.sink.is_eos() {
                self.done = true;
                return Ok(None);
            }
            if let Some(e) = self.pending_error() {
                self.done = true;
                return Err(e);
            }
        }
    }

    /// The file's duration, once known.
    pub fn duration(&self) -> Option<Duration> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| Duration::from_nanos(d.nseconds()))
    }

    /// The first error on the bus, as a message naming the file.
    fn pending_error(&self) -> Option<crate::error::Error> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Some(err!(
                    InvalidArgument,
                    "{}: cannot decode: {}",
                    self.name,
                    e.error()
                ));
            }
        }
        None
    }

    fn bus_error(&self, what: &str) -> crate::error::Error {
        self.pending_error()
            .unwrap_or_else(|| err!(InvalidArgument, "{}: {what}", self.name))
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
