//! One encoded access unit (a whole coded picture) of a camera's video, as the ingest's encoded tap
//! produces it and the clip ring keeps it. The bytes are a GStreamer buffer (reference counted:
//! handing a unit on never copies the picture).
//!
//! Contract with ingest: units are in decode order; H.264/H.265 in Annex B byte-stream with
//! `alignment=au`, and every key frame carries its parameter sets (SPS/PPS, and VPS for H.265)
//! in-band (the parser's `config-interval=-1`), so a clip can start at any key frame.

use std::time::Duration;

/// The codecs the encoded tap carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    /// The name shown in camera status (`H264`, `H265`).
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H264",
            VideoCodec::H265 => "H265",
        }
    }

    /// The GStreamer caps of the byte-stream this codec travels in.
    pub fn caps_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "video/x-h264,stream-format=byte-stream,alignment=au",
            VideoCodec::H265 => "video/x-h265,stream-format=byte-stream,alignment=au",
        }
    }
}

/// One access unit with its timing.
#[derive(Clone, Debug)]
pub struct EncodedUnit {
    pub codec: VideoCodec,
    /// Presentation time on the camera's stream clock (the same clock as `Frame::pts`).
    pub pts: Duration,
    /// Decode time; equal to `pts` for streams without B-frames, `None` when the stream has none.
    pub dts: Option<Duration>,
    /// Frame duration, when the stream says.
    pub duration: Option<Duration>,
    /// A key frame (IDR / IRAP) with its parameter sets: a clip may start here.
    pub keyframe: bool,
    /// The Annex B bytes.
    pub data: gstreamer::Buffer,
}

impl EncodedUnit {
    /// Size of the encoded picture in bytes.
    pub fn len(&self) -> usize {
        self.data.size()
    }

    pub fn is_empty(&self) -> bool {
        self.data.size() == 0
    }
}
