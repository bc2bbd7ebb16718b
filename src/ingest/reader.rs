//! Reading a video file (or any stream GStreamer can open by URI) frame by frame for offline analysis (`vigil analyze`, tests, benchmarks).
//! Unlike a live camera, nothing may be dropped here for lack of time: the consumer pulls each
//! analysis frame and the pipeline waits (appsink without dropping). The chain is the analysis
//! tap's: decode -> drop to the analysis rate -> scale -> convert to RGB, so a file is analysed
//! exactly as a live camera would be.

use std::path::Path;
use std::time::{Duration, SystemTime};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

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
    /// Time between analysis frames (zero: every frame).
    period: Duration,
    /// The earliest pts of the next analysis frame.
    next_due: Duration,
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
        let make = |factory: &str| {
            gst::ElementFactory::make(factory).build().ctx(
                ErrorKind::FailedPrecondition,
                format!("GStreamer element {factory} is missing (run scripts/setup)"),
            )
        };
        let decode = make("uridecodebin")?;
        decode.set_property("uri", uri);
        let rate = make("videorate")?;
        rate.set_property("drop-only", true);
        if opts.fps > 0.0 {
            // videorate drops (never duplicates) down to whole frames per second before anything
            // is scaled or converted; `next_frame` then keeps fractional rates exact by pts.
            rate.set_property("max-rate", opts.fps.ceil() as i32);
        }
        let scale = make("videoscale")?;
        let convert = make("videoconvert")?;
        let mut caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::Rgb)
            .pixel_aspect_ratio(gst::Fraction::new(1, 1));
        if opts.width > 0 {
            caps = caps.width(opts.width as i32);
        }
        let sink = gst_app::AppSink::builder()
            .caps(&caps.build())
            .sync(false)
            .max_buffers(2)
            .drop(false)
            .build();
        let pipeline = gst::Pipeline::new();
        let elements = [&decode, &rate, &scale, &convert, sink.upcast_ref()];
        pipeline
            .add_many(elements)
            .ctx(ErrorKind::Internal, "building the file pipeline")?;
        gst::Element::link_many([&rate, &scale, &convert, sink.upcast_ref()])
            .ctx(ErrorKind::Internal, "linking the analysis chain")?;
        let rate_sink = rate
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
            period: if opts.fps > 0.0 {
                Duration::from_secs_f64(1.0 / opts.fps)
            } else {
                Duration::ZERO
            },
            next_due: Duration::ZERO,
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
                let pts = sample
                    .buffer()
                    .and_then(|b| b.pts())
                    .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
                // Keep a frame when it is due, allowing a quarter period of timestamp jitter.
                if pts + self.period / 4 < self.next_due {
                    continue;
                }
                self.next_due = (self.next_due + self.period).max(pts + self.period / 2);
                return self.frame(&sample).map(Some);
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

    fn frame(&mut self, sample: &gst::Sample) -> Result<Frame> {
        let caps = sample
            .caps()
            .ok_or_else(|| err!(Internal, "{}: a frame without caps", self.name))?;
        let info = gst_video::VideoInfo::from_caps(caps).ctx(
            ErrorKind::Internal,
            format!("{}: unreadable frame caps", self.name),
        )?;
        let buffer = sample
            .buffer_owned()
            .ok_or_else(|| err!(Internal, "{}: a sample without a buffer", self.name))?;
        let pts = buffer
            .pts()
            .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
        let data = buffer
            .into_mapped_buffer_readable()
            .map_err(|_| err!(Internal, "{}: cannot map a frame", self.name))?;
        let stride = usize::try_from(info.stride()[0])
            .map_err(|_| err!(Internal, "{}: negative stride", self.name))?;
        let needed = stride * info.height() as usize;
        if data.len() < needed {
            return Err(err!(
                Internal,
                "{}: frame of {} bytes, expected {needed}",
                self.name,
                data.len()
            ));
        }
        let frame = Frame {
            seq: self.seq,
            pts,
            arrived: SystemTime::now(),
            width: info.width(),
            height: info.height(),
            stride,
            data: Box::new(data),
        };
        self.seq += 1;
        Ok(frame)
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
