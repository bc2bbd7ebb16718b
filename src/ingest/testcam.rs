//! A test camera: an RTSP server (gst-rtsp-server) on 127.0.0.1 serving one video file, looping
//! forever, for tests, the demo and anyone who wants a realistic camera (`vigil testcam FILE`).
//!
//! ```text
//! MP4/MOV with H.264/H.265: filesrc -> qtdemux -> h26Xparse -> rtph26Xpay   (as recorded)
//!                           (audio AAC track, if any, is served too, as a real camera would)
//! anything else (vtest.avi): filesrc -> demux -> decodebin -> x264enc zerolatency, key frame ~2 s
//! ```
//!
//! Looping: the demuxer's end of stream is caught on its pads and replaced by a non-flushing
//! seek back to the start, so running time (and so RTP time) keeps increasing. Each client gets
//! its own media. Known limit: for a file the server announces the file's duration as the PLAY
//! range (`npt=0-D`), and clients such as `rtspsrc` end the stream there by themselves, so a
//! client sees end of stream after each pass (vigil's camera reconnects within about a second).
//! Marking the media live would announce `npt=now-`, but gst-rtsp-server 1.22 then aborts in
//! `gst_rtsp_media_get_rates` for transcoded media. [`TestCam::stop`] closes every client and
//! the listening socket, so that a camera outage can be simulated and healed by starting again on
//! the same port.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::glib;
use gstreamer_rtsp_server::prelude::*;

use crate::error::{ErrorKind, Result, ResultExt};
use crate::{bail, err};

#[derive(Clone, Debug)]
pub struct TestCamOptions {
    pub file: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// Mount path, starting with `/`. Default `/stream`.
    pub path: String,
    /// Basic-auth user and password the server requires.
    pub credentials: Option<(String, String)>,
}

impl TestCamOptions {
    pub fn new(file: impl Into<PathBuf>) -> TestCamOptions {
        TestCamOptions {
            file: file.into(),
            port: 0,
            path: "/stream".into(),
            credentials: None,
        }
    }
}

/// A running test camera; stopped on drop.
pub struct TestCam {
    port: u16,
    path: String,
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
}

/// What the file holds, as far as serving it goes.
struct Probe {
    demuxer: &'static str,
    video: String,
    fps: f64,
    aac: bool,
}

fn probe(file: &Path) -> Result<Probe> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let demuxer = match ext.as_str() {
        "mp4" | "mov" | "m4v" | "3gp" => "qtdemux",
        "avi" => "avidemux",
        "mkv" | "webm" => "matroskademux",
        _ => bail!(
            InvalidArgument,
            "{}: not an MP4, MOV, AVI or MKV file",
            file.display()
        ),
    };
    let pipeline = gst::Pipeline::new();
    let src = super::chain::make("filesrc")?;
    src.set_property("location", file);
    let demux = super::chain::make(demuxer)?;
    pipeline
        .add_many([&src, &demux])
        .ctx(ErrorKind::Internal, "probe pipeline")?;
    src.link(&demux)
        .ctx(ErrorKind::Internal, "probe pipeline")?;
    let found: Arc<Mutex<Vec<gst::Caps>>> = Arc::default();
    let f = found.clone();
    demux.connect_pad_added(move |_, pad| {
        if let Some(c) = pad.current_caps() {
            f.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    });
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    demux.connect_no_more_pads(move |_| d.store(true, std::sync::atomic::Ordering::SeqCst));
    let _ = pipeline.set_state(gst::State::Paused);
    let t0 = Instant::now();
    let bus = pipeline.bus();
    while !done.load(std::sync::atomic::Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(10)
    {
        if let Some(b) = &bus
            && b.timed_pop_filtered(
                gst::ClockTime::from_mseconds(20),
                &[gst::MessageType::Error],
            )
            .is_some()
        {
            break;
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let caps = found.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut p = Probe {
        demuxer,
        video: String::new(),
        fps: 25.0,
        aac: false,
    };
    for c in caps {
        let Some(s) = c.structure(0) else { continue };
        let name = s.name().to_string();
        if name.starts_with("video/") && p.video.is_empty() {
            if let Ok(f) = s.get::<gst::Fraction>("framerate")
                && f.numer() > 0
                && f.denom() > 0
            {
                p.fps = f.numer() as f64 / f.denom() as f64;
            }
            p.video = name;
        } else if name == "audio/mpeg" && s.get::<i32>("mpegversion").is_ok_and(|v| v == 4) {
            p.aac = true;
        }
    }
    if p.video.is_empty() {
        bail!(InvalidArgument, "{}: no video track found", file.display());
    }
    Ok(p)
}

fn launch_line(file: &Path, p: &Probe) -> String {
    let loc = file.display().to_string().replace('"', "\\\"");
    let head = format!("filesrc location=\"{loc}\" ! {} name=d", p.demuxer);
    let video = match p.video.as_str() {
        "video/x-h264" if p.demuxer == "qtdemux" => {
            "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1"
                .to_string()
        }
        "video/x-h265" if p.demuxer == "qtdemux" => {
            "d.video_0 ! queue ! h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1"
                .to_string()
        }
        _ => format!(
            "d.video_0 ! queue ! decodebin ! videoconvert ! x264enc tune=zerolatency \
             speed-preset=ultrafast key-int-max={} ! h264parse ! rtph264pay name=pay0 pt=96 \
             config-interval=-1",
            (p.fps * 2.0).round().max(1.0) as u32
        ),
    };
    let audio = if p.aac && p.demuxer == "qtdemux" {
        " d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97"
    } else {
        ""
    };
    format!("( {head} {video}{audio} )")
}

/// Replaces the demuxer's end of stream by a seek back to the start.
fn loop_forever(media: &rtsp::RTSPMedia) {
    let Some(bin) = media.element().downcast_ref::<gst::Bin>().cloned() else {
        return;
    };
    let Some(demux) = bin.by_name("d") else {
        return;
    };
    demux.connect_pad_added(|demux, pad| {
        let is_video = pad.name().starts_with("video");
        let weak = demux.downgrade();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let Some(ev) = info.event() else {
                return gst::PadProbeReturn::Ok;
            };
            if !matches!(
                ev.type_(),
                gst::EventType::Eos | gst::EventType::SegmentDone
            ) {
                return gst::PadProbeReturn::Ok;
            }
            if is_video && let Some(d) = weak.upgrade() {
                d.call_async(|d| {
                    let _ = d.seek(
                        1.0,
                        gst::SeekFlags::SEGMENT,
                        gst::SeekType::Set,
                        gst::ClockTime::ZERO,
                        gst::SeekType::None,
                        gst::ClockTime::NONE,
                    );
                });
            }
            gst::PadProbeReturn::Drop
        });
    });
}

impl TestCam {
    /// Starts serving; returns once the port is bound.
    pub fn start(opts: &TestCamOptions) -> Result<TestCam> {
        super::init()?;
        if !opts.file.is_file() {
            bail!(InvalidArgument, "{}: no such file", opts.file.display());
        }
        if !opts.path.starts_with('/') || opts.path.len() < 2 {
            bail!(
                InvalidArgument,
                "path: {:?} must start with / and name a mount",
                opts.path
            );
        }
        let file = std::fs::canonicalize(&opts.file)
            .map_err(|e| err!(InvalidArgument, "{}: {e}", opts.file.display()))?;
        let launch = launch_line(&file, &probe(&file)?);
        let ctx = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&opts.port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&launch);
        factory.set_shared(false);
        factory.connect_media_configure(|_, media| loop_forever(media));
        if let Some((user, pass)) = &opts.credentials {
            let auth = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
                .build();
            auth.add_basic(rtsp::RTSPAuth::make_basic(user, pass).as_str(), &token);
            server.set_auth(Some(&auth));
            factory.add_role_from_structure(
                &gst::Structure::builder("user")
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                    .build(),
            );
        }
        let mounts = server
            .mount_points()
            .ok_or_else(|| err!(Internal, "RTSP server without mount points"))?;
        mounts.add_factory(&opts.path, factory);
        let source = server.attach(Some(&ctx)).ctx(
            ErrorKind::Unavailable,
            format!("cannot listen on 127.0.0.1:{}", opts.port),
        )?;
        let port = u16::try_from(server.bound_port())
            .map_err(|_| err!(Unavailable, "cannot listen on 127.0.0.1:{}", opts.port))?;
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-testcam".into())
            .spawn(move || {
                ctx.with_thread_default(|| ml.run()).ok();
                // Close clients and the listening socket before the loop goes away.
                if let Some(s) = ctx.find_source_by_id(&source) {
                    s.destroy();
                }
                server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
                while ctx.iteration(false) {}
            })
            .ctx(ErrorKind::Internal, "starting the test camera thread")?;
        Ok(TestCam {
            port,
            path: opts.path.clone(),
            main_loop,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtsp://127.0.0.1:<port><path>`.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Closes every client and stops listening.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Serves until the process is interrupted (the CLI).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestCam {
    fn drop(&mut self) {
        self.stop_inner();
    }
}
