//! One camera's supervision loop, on its own named thread (`vigil-in-<id>`): start the pipeline,
//! watch its bus and the no-frame watchdog, and on any failure tear it down to `NULL`, publish
//! `RETRYING` with the error and the next attempt time, wait an exponential backoff with jitter,
//! and try again. States: `CONNECTING` -> `STREAMING` (first frame) -> `RETRYING` -> `CONNECTING`.
//! It owns only its camera: a failing camera never slows another. It must never touch the store
//! or the API.

use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use gstreamer as gst;

use super::config::IngestConfig;
use super::pipeline::{LivePipeline, PipelineSpec, Taps};
use super::status::{CameraState, CameraStatus, RateMeter, StatusBoard};
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::FrameSlot;

/// How often the loop looks at the bus, the watchdog and the stop signal, and refreshes stats.
const TICK: Duration = Duration::from_millis(100);
const STATS_EVERY: Duration = Duration::from_millis(1000);

/// What a supervisor reports through and reads from.
#[derive(Clone)]
pub struct Reporting {
    pub board: StatusBoard,
    pub slot: Arc<FrameSlot>,
    /// Why this camera is not analysed (empty when it is).
    pub analysis_error: Arc<Mutex<String>>,
}

/// A running supervision thread. [`Supervisor::stop`] (or drop) stops and joins it; the
/// pipeline is at `NULL` when it returns.
pub struct Supervisor {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

enum Outcome {
    Stopped,
    Failed { error: String, streamed: bool },
}

impl Supervisor {
    pub fn spawn(
        camera: &str,
        spec: PipelineSpec,
        taps: Taps,
        cfg: IngestConfig,
        rep: Reporting,
    ) -> Result<Supervisor> {
        let (stop, stop_rx) = mpsc::channel();
        let mut run = Loop {
            status: CameraStatus {
                camera: camera.to_string(),
                ..CameraStatus::default()
            },
            spec,
            taps,
            cfg,
            rep,
            stop: stop_rx,
            input: RateMeter::new(Instant::now(), 0),
            analysed: RateMeter::new(Instant::now(), 0),
        };
        let thread = std::thread::Builder::new()
            .name(format!("vigil-in-{camera}"))
            .spawn(move || run.run())
            .ctx(
                ErrorKind::Internal,
                format!("starting the ingest thread of {camera}"),
            )?;
        Ok(Supervisor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the loop and waits for it (blocking: call from a plain thread or `spawn_blocking`).
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct Loop {
    status: CameraStatus,
    spec: PipelineSpec,
    taps: Taps,
    cfg: IngestConfig,
    rep: Reporting,
    stop: mpsc::Receiver<()>,
    input: RateMeter,
    analysed: RateMeter,
}

impl Loop {
    fn stopping(&self) -> bool {
        !matches!(self.stop.try_recv(), Err(TryRecvError::Empty))
    }

    fn run(&mut self) {
        let mut failures = 0u32;
        loop {
            self.set_state(CameraState::Connecting);
            match self.attempt() {
                Outcome::Stopped => break,
                Outcome::Failed { error, streamed } => {
                    if streamed {
                        failures = 0;
                    }
                    failures += 1;
                    let delay = self.cfg.backoff(failures, rand::random_range(-1.0..=1.0));
                    tracing::warn!(camera = %self.status.camera, %error, retry_in = ?delay, "stream failed");
                    self.status.last_error = error;
                    self.status.next_attempt = Some(SystemTime::now() + delay);
                    self.status.input_fps = 0.0;
                    self.set_state(CameraState::Retrying);
                    match self.stop.recv_timeout(delay) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                    self.status.next_attempt = None;
                    self.status.reconnects += 1;
                }
            }
        }
        self.taps.latest.clear();
        tracing::debug!(camera = %self.status.camera, "ingest stopped");
    }

    fn set_state(&mut self, state: CameraState) {
        self.status.state = state;
        self.refresh();
    }

    /// Refreshes counters and rates and publishes.
    fn refresh(&mut self) {
        let now = Instant::now();
        let c = &self.taps.counters;
        let frames_in = c.frames_in.load(std::sync::atomic::Ordering::Relaxed);
        let analysed = c.frames_analysed.load(std::sync::atomic::Ordering::Relaxed);
        let s = &mut self.status;
        s.frames_in = frames_in;
        s.frames_analysed = analysed;
        s.frames_dropped = self.rep.slot.dropped();
        if s.state == CameraState::Streaming {
            s.input_fps = self.input.update(now, frames_in);
        }
        s.analysis_fps = self.analysed.update(now, analysed);
        {
            let info = self.taps.info.lock().unwrap_or_else(|p| p.into_inner());
            s.codec = info
                .codec
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            s.width = info.width;
            s.height = info.height;
            s.last_frame = info.last_frame_wall;
        }
        s.analysis_error = self
            .rep
            .analysis_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.rep.board.publish(self.status.clone());
    }

    /// One pipeline's life.
    fn attempt(&mut self) -> Outcome {
        let started = Instant::now();
        let pipeline = match LivePipeline::start(&self.spec, &self.taps) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Failed {
                    error: e.to_string(),
                    streamed: false,
                };
            }
        };
        let Some(bus) = pipeline.bus() else {
            return Outcome::Failed {
                error: "pipeline without a bus".into(),
                streamed: false,
            };
        };
        let mut streamed = false;
        let mut last_stats = Instant::now();
        let fail = |error: String, streamed| Outcome::Failed { error, streamed };
        loop {
            if self.stopping() {
                return Outcome::Stopped;
            }
            let wait = gst::ClockTime::from_nseconds(TICK.as_nanos() as u64);
            if let Some(msg) =
                bus.timed_pop_filtered(wait, &[gst::MessageType::Error, gst::MessageType::Eos])
            {
                drop(pipeline);
                let error = match msg.view() {
                    gst::MessageView::Error(e) => describe(&self.spec.name, e),
                    _ => format!("{}: the stream ended", self.spec.name),
                };
                return fail(error, streamed);
            }
            let last = self
                .taps
                .info
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .last_frame
                .filter(|t| *t >= started);
            if last.is_some() && !streamed {
                streamed = true;
                self.set_state(CameraState::Streaming);
            }
            let quiet = last.unwrap_or(started).elapsed();
            if quiet > self.cfg.watchdog() {
                drop(pipeline);
                let what = if streamed {
                    "no frame"
                } else {
                    "no first frame"
                };
                return fail(
                    format!(
                        "{}: {what} for {:.0} s (watchdog)",
                        self.spec.name,
                        quiet.as_secs_f64()
                    ),
                    streamed,
                );
            }
            if last_stats.elapsed() >= STATS_EVERY {
                last_stats = Instant::now();
                self.refresh();
            }
        }
    }
}

/// A bus error as one line: the element's message and the first line of its debug detail.
fn describe(name: &str, e: &gst::message::Error) -> String {
    let mut text = format!("{name}: {}", e.error());
    if let Some(d) = e.debug() {
        let detail = d
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("");
        if !detail.is_empty() {
            let detail: String = detail.chars().take(300).collect();
            // The URL given to rtspsrc carries no credentials (they are properties), so the
            // detail cannot leak them.
            text.push_str(&format!(" ({detail})"));
        }
    }
    text
}
