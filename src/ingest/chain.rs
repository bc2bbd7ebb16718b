//! The analysis chain shared by live cameras and the file reader: drop to the analysis rate, scale,
//! then convert to RGB at the analysis size (scaling before converting, so only analysed frames
//! are ever converted), plus the pieces around it: the rate gate that keeps fractional rates exact
//! by pts, and turning an appsink sample into a [`Frame`]. No pipeline is run here.

use std::time::{Duration, SystemTime};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use crate::err;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::Frame;

/// Makes a GStreamer element, naming it in the error when its plugin is missing.
pub fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory).build().ctx(
        ErrorKind::FailedPrecondition,
        format!("GStreamer element {factory} is missing (run scripts/setup)"),
    )
}

/// `videorate` (drop only, at most `ceil(fps)`) -> `videoscale` -> `videoconvert`, and the RGB
/// caps of the analysis size (`width` 0 = native; the height follows the display aspect ratio).
/// The returned elements are not yet in a bin; link them in order and end in an appsink with
/// the returned caps.
pub fn analysis_elements(fps: f64, width: u32) -> Result<(Vec<gst::Element>, gst::Caps)> {
    let rate = make("videorate")?;
    rate.set_property("drop-only", true);
    if fps > 0.0 {
        // videorate drops (never duplicates) down to whole frames per second before anything
        // is scaled or converted; a `RateGate` then keeps fractional rates exact by pts.
        rate.set_property("max-rate", fps.ceil() as i32);
    }
    let scale = make("videoscale")?;
    let convert = make("videoconvert")?;
    let mut caps = gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::Rgb)
        .pixel_aspect_ratio(gst::Fraction::new(1, 1));
    if width > 0 {
        caps = caps.width(width as i32);
    }
    Ok((vec![rate, scale, convert], caps.build()))
}

/// Keeps one frame per analysis period by presentation time, allowing a quarter period of jitter.
#[derive(Clone, Debug)]
pub struct RateGate {
    period: Duration,
    next_due: Duration,
}

impl RateGate {
    /// `fps` 0 keeps every frame.
    pub fn new(fps: f64) -> RateGate {
        RateGate {
            period: if fps > 0.0 {
                Duration::from_secs_f64(1.0 / fps)
            } else {
                Duration::ZERO
            },
            next_due: Duration::ZERO,
        }
    }

    /// Whether the frame at `pts` is due; if so the next one is scheduled.
    pub fn admit(&mut self, pts: Duration) -> bool {
        if pts + self.period / 4 < self.next_due {
            return false;
        }
        self.next_due = (self.next_due + self.period).max(pts + self.period / 2);
        true
    }
}

/// The pts of a sample's buffer (zero when it has none).
pub fn sample_pts(sample: &gst::Sample) -> Duration {
    sample
        .buffer()
        .and_then(|b| b.pts())
        .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()))
}

/// An RGB24 sample as a [`Frame`] (the buffer is mapped, not copied); `name` names the source in
/// errors and must not contain credentials.
pub fn frame_from_sample(
    sample: &gst::Sample,
    seq: u64,
    pts: Duration,
    name: &str,
) -> Result<Frame> {
    let caps = sample
        .caps()
        .ok_or_else(|| err!(Internal, "{name}: a frame without caps"))?;
    let info = gst_video::VideoInfo::from_caps(caps).ctx(
        ErrorKind::Internal,
        format!("{name}: unreadable frame caps"),
    )?;
    let buffer = sample
        .buffer_owned()
        .ok_or_else(|| err!(Internal, "{name}: a sample without a buffer"))?;
    frame_from_buffer(buffer, &info, seq, pts, name)
}

/// An RGB24 buffer of layout `info` as a [`Frame`].
pub fn frame_from_buffer(
    buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
    seq: u64,
    pts: Duration,
    name: &str,
) -> Result<Frame> {
    let data = buffer
        .into_mapped_buffer_readable()
        .map_err(|_| err!(Internal, "{name}: cannot map a frame"))?;
    let stride =
        usize::try_from(info.stride()[0]).map_err(|_| err!(Internal, "{name}: negative stride"))?;
    let needed = stride * info.height() as usize;
    if data.len() < needed {
        return Err(err!(
            Internal,
            "{name}: frame of {} bytes, expected {needed}",
            data.len()
        ));
    }
    Ok(Frame {
        seq,
        pts,
        arrived: SystemTime::now(),
        width: info.width(),
        height: info.height(),
        stride,
        data: Box::new(data),
    })
}

/// An appsink for analysis frames with `caps`; `drop` decides whether a slow consumer loses
/// frames (live) or holds up the pipeline (files read for offline analysis).
pub fn analysis_sink(caps: &gst::Caps, drop: bool) -> gst_app::AppSink {
    gst_app::AppSink::builder()
        .caps(caps)
        .sync(false)
        .max_buffers(2)
        .drop(drop)
        .build()
}
