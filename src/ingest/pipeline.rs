//! Building one camera's GStreamer pipeline and its taps. The supervisor runs it; this module
//! never retries, sleeps or decides what a failure means.
//!
//! ```text
//! rtspsrc (TCP|UDP, user-id/user-pw) -> rtph26Xdepay -+
//! filesrc -> parsebin ---------------------------------+-> h26Xparse config-interval=-1
//!   -> video/x-h26X,stream-format=byte-stream,alignment=au -> tee
//!        tee -> queue -> appsink "encoded"  => EncodedUnit -> ClipRing      (never re-encoded)
//!        tee -> queue -> avdec_h26X [probe: latest native frame, frames in]
//!                -> videorate drop-only -> videoscale -> videoconvert
//!                -> RGB at the analysis size -> appsink "analysis" => Frame -> FrameSink
//! ```
//!
//! The codec is known only when the source exposes its video pad, so everything after the source
//! is built then; other tracks (audio, data) go to a `fakesink`. An unsupported codec is posted
//! as an error on the bus naming it. All timestamps pass through the camera's [`StreamClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::chain::{
    RateGate, analysis_elements, analysis_sink, frame_from_buffer, make, sample_pts,
};
use super::clock::StreamClock;
use super::status::Counters;
use crate::camera::{Credentials, Transport};
use crate::err;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::Frame;
use crate::media::{ClipRing, EncodedUnit, VideoCodec};

/// Where analysis frames go (the camera's `FrameSlot`, directly or through the detection feed).
/// Must never block.
pub type FrameSink = Arc<dyn Fn(Frame) + Send + Sync>;

/// What to open.
#[derive(Clone)]
pub enum Source {
    Rtsp {
        url: String,
        credentials: Option<Credentials>,
        transport: Transport,
    },
    File {
        path: std::path::PathBuf,
        /// Play at the file's pace (true) or as fast as it decodes.
        realtime: bool,
    },
}

/// Everything one pipeline needs.
#[derive(Clone)]
pub struct PipelineSpec {
    /// Shown in errors: the URL with any password redacted.
    pub name: String,
    pub source: Source,
    pub fps: f64,
    pub width: u32,
    /// The decoder's threads (0 = the decoder's default, one per core).
    pub decode_threads: u32,
}

/// What the stream turned out to be, and when it last delivered a frame.
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    pub codec: Option<VideoCodec>,
    pub width: u32,
    pub height: u32,
    pub last_frame: Option<Instant>,
    pub last_frame_wall: Option<SystemTime>,
}

/// The newest decoded frame at native resolution, converted only when a snapshot is asked for.
#[derive(Clone, Default)]
pub struct LatestFrame {
    inner: Arc<Mutex<Option<(gst::Buffer, gst::Caps, Duration)>>>,
}

/// The widest snapshot [`LatestFrame::snapshot`] makes.
pub const SNAPSHOT_MAX_WIDTH: u32 = 1920;

impl LatestFrame {
    fn set(&self, buffer: gst::Buffer, caps: gst::Caps, pts: Duration) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Some((buffer, caps, pts));
    }

    /// Forgets the frame (the camera stopped).
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The newest decoded frame as RGB24, at most [`SNAPSHOT_MAX_WIDTH`] wide (square pixels,
    /// aspect kept), or `None` before the first frame. Converts now, on the caller's thread.
    pub fn snapshot(&self) -> Result<Option<Frame>> {
        let Some((buffer, caps, pts)) =
            self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
        else {
            return Ok(None);
        };
        let in_info = gst_video::VideoInfo::from_caps(&caps)
            .ctx(ErrorKind::Internal, "snapshot: unreadable frame caps")?;
        let par = in_info.par();
        let (num, den) = (par.numer().max(1) as u64, par.denom().max(1) as u64);
        let display_w = (in_info.width() as u64 * num / den).max(1);
        let w = display_w.min(SNAPSHOT_MAX_WIDTH as u64);
        let h = (in_info.height() as u64 * w / display_w).max(1);
        let (w, h) = ((w as u32) & !1, (h as u32) & !1);
        let out_info =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w.max(2), h.max(2))
                .fps(in_info.fps())
                .interlace_mode(in_info.interlace_mode())
                .build()
                .ctx(ErrorKind::Internal, "snapshot: output format")?;
        let conv = gst_video::VideoConverter::new(&in_info, &out_info, None)
            .ctx(ErrorKind::Internal, "snapshot: converter")?;
        let src = gst_video::VideoFrame::from_buffer_readable(buffer, &in_info)
            .map_err(|_| err!(Internal, "snapshot: cannot map the decoded frame"))?;
        let out = gst::Buffer::with_size(out_info.size())
            .ctx(ErrorKind::ResourceExhausted, "snapshot: allocating")?;
        let mut dst = gst_video::VideoFrame::from_buffer_writable(out, &out_info)
            .map_err(|_| err!(Internal, "snapshot: cannot map the output frame"))?;
        conv.frame(&src, &mut dst);
        frame_from_buffer(dst.into_buffer(), &out_info, 0, pts, "snapshot").map(Some)
    }
}

/// Per-camera state the taps write into; lives across reconnects.
#[derive(Clone)]
pub struct Taps {
    pub ring: Arc<ClipRing>,
    pub frames: FrameSink,
    pub latest: LatestFrame,
    pub clock: Arc<StreamClock>,
    pub counters: Arc<Counters>,
    pub info: Arc<Mutex<StreamInfo>>,
    /// Sequence number of the next analysis frame (per camera, across reconnects).
    pub seq: Arc<AtomicU64>,
}

impl Taps {
    fn info(&self) -> std::sync::MutexGuard<'_, StreamInfo> {
        self.info.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running (or starting) pipeline; set to `NULL` on drop.
pub struct LivePipeline {
    pipeline: gst::Pipeline,
    /// The redacted URL, for logs.
    name: String,
}

impl LivePipeline {
    /// Builds the pipeline for `spec` and sets it playing. Errors here are configuration or
    /// installation problems; stream problems arrive later on [`LivePipeline::bus`].
    pub fn start(spec: &PipelineSpec, taps: &Taps) -> Result<LivePipeline> {
        super::init()?;
        let pipeline = gst::Pipeline::new();
        let live = LivePipeline {
            pipeline: pipeline.clone(),
            name: spec.name.clone(),
        };
        let tail = Tail {
            spec: spec.clone(),
            taps: taps.clone(),
            pipeline: pipeline.downgrade(),
            built: Arc::new(Mutex::new(false)),
        };
        match &spec.source {
            Source::Rtsp {
                url,
                credentials,
                transport,
            } => {
                let src = make("rtspsrc")?;
                src.set_property("location", url);
                src.set_property_from_str(
                    "protocols",
                    match transport {
                        Transport::Tcp => "tcp",
                        Transport::Udp => "udp",
                    },
                );
                src.set_property("latency", 200u32);
                if let Some(c) = credentials {
                    src.set_property("user-id", &c.username);
                    src.set_property("user-pw", &c.password);
                }
                pipeline
                    .add(&src)
                    .ctx(ErrorKind::Internal, "adding rtspsrc")?;
                src.connect_pad_added(move |src, pad| tail.rtp_pad(src, pad));
            }
            Source::File { path, .. } => {
                let src = make("filesrc")?;
                src.set_property("location", path);
                let parse = make("parsebin")?;
                pipeline
                    .add_many([&src, &parse])
                    .ctx(ErrorKind::Internal, "adding the file source")?;
                src.link(&parse)
                    .ctx(ErrorKind::Internal, "linking the file source")?;
                parse.connect_pad_added(move |src, pad| tail.parsed_pad(src, pad));
            }
        }
        if live.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(live
                .pending_error()
                .unwrap_or_else(|| err!(Unavailable, "{}: cannot start the pipeline", spec.name)));
        }
        Ok(live)
    }

    pub fn bus(&self) -> Option<gst::Bus> {
        self.pipeline.bus()
    }

    fn pending_error(&self) -> Option<crate::error::Error> {
        let bus = self.pipeline.bus()?;
        let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(e) => Some(err!(Unavailable, "{}", e.error())),
            _ => None,
        }
    }
}

/// How long stopping a pipeline may take before it is abandoned.
const TEARDOWN_WAIT: Duration = Duration::from_secs(5);

impl Drop for LivePipeline {
    /// Stops the pipeline on a helper thread and waits at most [`TEARDOWN_WAIT`]. GStreamer
    /// 1.22's `rtspsrc` can deadlock in the change to NULL when its own task is handling a lost
    /// connection at that moment (seen when a camera's server went away); the camera's supervisor
    /// must not hang with it. Such a pipeline is abandoned (its helper thread stays blocked),
    /// logged, and the camera goes on with a new pipeline.
    fn drop(&mut self) {
        let pipeline = self.pipeline.clone();
        let (done, wait) = std::sync::mpsc::sync_channel::<()>(1);
        let helper = std::thread::Builder::new()
            .name("vigil-teardown".into())
            .spawn(move || {
                let _ = pipeline.set_state(gst::State::Null);
                let _ = done.send(());
            });
        match helper {
            Ok(_) => {
                if wait.recv_timeout(TEARDOWN_WAIT).is_err() {
                    tracing::error!(
                        camera = %self.name,
                        "GStreamer pipeline did not stop within {TEARDOWN_WAIT:?}: abandoned"
                    );
                }
            }
            Err(_) => {
                let _ = self.pipeline.set_state(gst::State::Null);
            }
        }
    }
}

/// Builds everything after the source once the video pad appears.
struct Tail {
    spec: PipelineSpec,
    taps: Taps,
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    built: Arc<Mutex<bool>>,
}

fn caps_name(pad: &gst::Pad) -> (String, Option<gst::Caps>) {
    let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
    let name = caps
        .as_ref()
        .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
        .unwrap_or_default();
    (name, caps)
}

impl Tail {
    /// An `rtspsrc` pad: `application/x-rtp` with `media` and `encoding-name`.
    fn rtp_pad(&self, src: &gst::Element, pad: &gst::Pad) {
        let (_, caps) = caps_name(pad);
        let s = caps
            .as_ref()
            .and_then(|c| c.structure(0).map(|s| s.to_owned()));
        let media = s
            .as_ref()
            .and_then(|s| s.get::<String>("media").ok())
            .unwrap_or_default();
        let encoding = s
            .as_ref()
            .and_then(|s| s.get::<String>("encoding-name").ok())
            .unwrap_or_default()
            .to_ascii_uppercase();
        if media != "video" {
            self.discard(pad);
            return;
        }
        let (codec, depay) = match encoding.as_str() {
            "H264" => (VideoCodec::H264, "rtph264depay"),
            "H265" => (VideoCodec::H265, "rtph265depay"),
            other => {
                self.unsupported(src, pad, &format!("RTP encoding {other}"));
                return;
            }
        };
        if let Err(e) = make(depay).and_then(|d| self.build(pad, codec, Some(d))) {
            post_error(src, &format!("{}: {e}", self.spec.name));
        }
    }

    /// A `parsebin` pad of a file: `video/x-h264`, `audio/...`.
    fn parsed_pad(&self, src: &gst::Element, pad: &gst::Pad) {
        let (name, _) = caps_name(pad);
        let codec = match name.as_str() {
            "video/x-h264" => VideoCodec::H264,
            "video/x-h265" => VideoCodec::H265,
            n if n.starts_with("video/") => {
                self.unsupported(src, pad, n);
                return;
            }
            _ => {
                self.discard(pad);
                return;
            }
        };
        if let Err(e) = self.build(pad, codec, None) {
            post_error(src, &format!("{}: {e}", self.spec.name));
        }
    }

    fn unsupported(&self, src: &gst::Element, pad: &gst::Pad, what: &str) {
        self.discard(pad);
        post_error(
            src,
            &format!(
                "{}: unsupported video codec ({what}); vigil ingests H.264 and H.265",
                self.spec.name
            ),
        );
    }

    /// Sends a track vigil does not use into a fakesink.
    fn discard(&self, pad: &gst::Pad) {
        let Some(pipeline) = self.pipeline.upgrade() else {
            return;
        };
        let Ok(sink) = make("fakesink") else { return };
        sink.set_property("sync", false);
        sink.set_property("async", false);
        if pipeline.add(&sink).is_ok() {
            let _ = sink.sync_state_with_parent();
            if let Some(sp) = sink.static_pad("sink") {
                let _ = pad.link(&sp);
            }
        }
    }

    fn build(&self, pad: &gst::Pad, codec: VideoCodec, depay: Option<gst::Element>) -> Result<()> {
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if *built {
            // A second video track: only the first is ingested.
            drop(built);
            self.discard(pad);
            return Ok(());
        }
        let pipeline = self
            .pipeline
            .upgrade()
            .ok_or_else(|| err!(Cancelled, "pipeline gone"))?;
        let (parser, decoder) = match codec {
            VideoCodec::H264 => ("h264parse", "avdec_h264"),
            VideoCodec::H265 => ("h265parse", "avdec_h265"),
        };
        let parse = make(parser)?;
        parse.set_property("config-interval", -1i32);
        let filter = make("capsfilter")?;
        let byte_stream: gst::Caps = codec
            .caps_str()
            .parse()
            .map_err(|_| err!(Internal, "bad caps {}", codec.caps_str()))?;
        filter.set_property("caps", &byte_stream);
        let tee = make("tee")?;
        let q_enc = make("queue")?;
        let enc_sink = gst_app::AppSink::builder()
            .sync(false)
            .max_buffers(64)
            .drop(true)
            .build();
        let q_dec = make("queue")?;
        let dec = make(decoder)?;
        if dec.has_property("max-threads") {
            dec.set_property("max-threads", self.spec.decode_threads.min(16) as i32);
        }
        let (chain, rgb) = analysis_elements(self.spec.fps, self.spec.width)?;
        let realtime = matches!(self.spec.source, Source::File { realtime: true, .. });
        let ana_sink = analysis_sink(&rgb, true);
        ana_sink.set_max_buffers(1);
        ana_sink.set_sync(realtime);

        let mut head: Vec<gst::Element> = depay.into_iter().collect();
        head.extend([parse, filter, tee.clone()]);
        let mut dec_chain = vec![q_dec, dec.clone()];
        dec_chain.extend(chain);
        dec_chain.push(ana_sink.clone().upcast());
        let enc_chain = [q_enc, enc_sink.clone().upcast()];
        let all: Vec<&gst::Element> = head.iter().chain(&dec_chain).chain(&enc_chain).collect();
        pipeline
            .add_many(all.iter().copied())
            .ctx(ErrorKind::Internal, "adding the video chain")?;
        gst::Element::link_many(head.iter())
            .and_then(|_| gst::Element::link_many(dec_chain.iter()))
            .and_then(|_| gst::Element::link_many(enc_chain.iter()))
            .and_then(|_| tee.link(&enc_chain[0]))
            .and_then(|_| tee.link(&dec_chain[0]))
            .ctx(ErrorKind::Internal, "linking the video chain")?;

        self.taps.clock.begin();
        {
            let mut info = self.taps.info();
            if info.codec.is_some_and(|c| c != codec) {
                // Clips cannot mix codecs: the pre-roll starts over.
                self.taps.ring.clear();
            }
            info.codec = Some(codec);
        }
        self.tap_origin(&head[0]);
        self.tap_encoded(&enc_sink, codec);
        self.tap_decoded(&dec);
        self.tap_analysis(&ana_sink);

        for e in all.iter().rev() {
            e.sync_state_with_parent()
                .ctx(ErrorKind::Internal, "starting the video chain")?;
        }
        let sink = head[0]
            .static_pad("sink")
            .ok_or_else(|| err!(Internal, "no sink pad"))?;
        pad.link(&sink).map_err(|e| {
            err!(
                Internal,
                "{}: linking the video track: {e:?}",
                self.spec.name
            )
        })?;
        *built = true;
        Ok(())
    }

    /// The first buffer's time becomes the origin of this pipeline on the camera clock.
    fn tap_origin(&self, first: &gst::Element) {
        let Some(pad) = first.static_pad("sink") else {
            return;
        };
        let clock = self.taps.clock.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                let t = [b.dts(), b.pts()]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|t| Duration::from_nanos(t.nseconds()));
                if let Some(t) = t {
                    clock.origin(t);
                    return gst::PadProbeReturn::Remove;
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    fn tap_encoded(&self, sink: &gst_app::AppSink, codec: VideoCodec) {
        let taps = self.taps.clone();
        // A new connection may start mid-GOP: its units before the first key frame cannot be
        // decoded after the previous connection's, so the ring never gets them.
        let mut keyed = false;
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(buffer) = sample.buffer_owned() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    keyed |= !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                    if !keyed {
                        return Ok(gst::FlowSuccess::Ok);
                    }
                    let ns =
                        |t: Option<gst::ClockTime>| t.map(|t| Duration::from_nanos(t.nseconds()));
                    let Some(pts) = ns(buffer.pts()).or(ns(buffer.dts())) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let pts = taps.clock.map(pts);
                    let dts = ns(buffer.dts()).map(|d| taps.clock.map(d));
                    let unit = EncodedUnit {
                        codec,
                        pts,
                        dts: Some(taps.clock.decode_time(pts, dts)),
                        duration: ns(buffer.duration()),
                        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                        data: buffer,
                    };
                    taps.ring.push(unit);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }

    /// Every decoded frame: counted, timed for the watchdog, and kept as the latest frame.
    fn tap_decoded(&self, dec: &gst::Element) {
        let Some(pad) = dec.static_pad("src") else {
            return;
        };
        let taps = self.taps.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer() else {
                return gst::PadProbeReturn::Ok;
            };
            taps.counters.add_in();
            let caps = pad.current_caps();
            {
                let mut i = taps.info();
                i.last_frame = Some(Instant::now());
                i.last_frame_wall = Some(SystemTime::now());
                if let Some(s) = caps.as_ref().and_then(|c| c.structure(0)) {
                    i.width = s.get::<i32>("width").unwrap_or(0).max(0) as u32;
                    i.height = s.get::<i32>("height").unwrap_or(0).max(0) as u32;
                }
            }
            if let Some(caps) = caps {
                let pts = buffer
                    .pts()
                    .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
                taps.latest.set(buffer.clone(), caps, taps.clock.map(pts));
            }
            gst::PadProbeReturn::Ok
        });
    }

    fn tap_analysis(&self, sink: &gst_app::AppSink) {
        let taps = self.taps.clone();
        let name = self.spec.name.clone();
        let mut gate = RateGate::new(self.spec.fps);
        let mut info: Option<(gst::Caps, gst_video::VideoInfo)> = None;
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let raw = sample_pts(&sample);
                    if !gate.admit(raw) {
                        return Ok(gst::FlowSuccess::Ok);
                    }
                    let (Some(caps), Some(buffer)) = (sample.caps(), sample.buffer_owned()) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    if info.as_ref().is_none_or(|(c, _)| c != caps) {
                        match gst_video::VideoInfo::from_caps(caps) {
                            Ok(i) => info = Some((caps.to_owned(), i)),
                            Err(_) => return Ok(gst::FlowSuccess::Ok),
                        }
                    }
                    let Some((_, vi)) = info.as_ref() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let seq = taps.seq.fetch_add(1, Ordering::Relaxed);
                    match frame_from_buffer(buffer, vi, seq, taps.clock.map(raw), &name) {
                        Ok(frame) => (taps.frames)(frame),
                        Err(error) => tracing::warn!(%error, "analysis frame lost"),
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
}

fn post_error(src: &gst::Element, text: &str) {
    let msg = gst::message::Error::builder(gst::StreamError::CodecNotFound, text)
        .src(src)
        .build();
    let _ = src.post_message(msg);
}
