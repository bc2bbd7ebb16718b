//! Helpers of the ingest tests: a camera supervised exactly as the service does it (real
//! pipeline, real test camera over loopback), with a frame sink that records what analysis gets.

#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use vigil::camera::{Credentials, Transport};
use vigil::frame::FrameSlot;
use vigil::ingest::clock::StreamClock;
use vigil::ingest::pipeline::{FrameSink, StreamInfo};
use vigil::ingest::supervisor::Reporting;
use vigil::ingest::{
    CameraState, CameraStatus, Counters, IngestConfig, LatestFrame, PipelineSpec, Source,
    StatusBoard, Supervisor, Taps,
};
use vigil::media::ClipRing;
use vigil::metrics::Metrics;

/// What the analysis side saw of one frame.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub seq: u64,
    pub pts: Duration,
    pub width: u32,
    pub height: u32,
    pub at: Instant,
}

pub struct Cam {
    pub id: String,
    pub board: StatusBoard,
    pub ring: Arc<ClipRing>,
    pub slot: Arc<FrameSlot>,
    pub latest: LatestFrame,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub sup: Option<Supervisor>,
}

/// Small backoff so that tests heal quickly; other settings are the defaults.
pub fn fast_config() -> IngestConfig {
    IngestConfig {
        backoff_min_s: 0.2,
        backoff_max_s: 1.0,
        watchdog_s: 8.0,
        pre_roll_s: 2.0,
        ..IngestConfig::default()
    }
}

pub enum Sink {
    /// Record every frame (and leave the slot empty).
    Record,
    /// Offer to the slot only (a consumer takes from `Cam::slot`).
    Slot,
}

pub fn start(
    id: &str,
    url: &str,
    credentials: Option<Credentials>,
    cfg: &IngestConfig,
    fps: f64,
    width: u32,
    sink: Sink,
) -> Cam {
    let source = Source::Rtsp {
        url: url.to_string(),
        credentials,
        transport: Transport::Tcp,
    };
    start_source(
        id,
        &vigil::camera::redact_url(url),
        source,
        cfg,
        fps,
        width,
        sink,
    )
}

pub fn start_source(
    id: &str,
    name: &str,
    source: Source,
    cfg: &IngestConfig,
    fps: f64,
    width: u32,
    sink: Sink,
) -> Cam {
    vigil::ingest::init().unwrap();
    let board = StatusBoard::new(&Metrics::new()).unwrap();
    let ring = Arc::new(ClipRing::new(cfg.pre_roll(), cfg.ring_max_bytes));
    let slot = Arc::new(FrameSlot::new());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let frames: FrameSink = match sink {
        Sink::Record => {
            let seen = seen.clone();
            Arc::new(move |f| {
                seen.lock().unwrap().push(Seen {
                    seq: f.seq,
                    pts: f.pts,
                    width: f.width,
                    height: f.height,
                    at: Instant::now(),
                })
            })
        }
        Sink::Slot => {
            let slot = slot.clone();
            Arc::new(move |f| slot.offer(f))
        }
    };
    let latest = LatestFrame::default();
    let taps = Taps {
        ring: ring.clone(),
        frames,
        latest: latest.clone(),
        clock: Arc::new(StreamClock::new()),
        counters: Arc::new(Counters::default()),
        info: Arc::new(Mutex::new(StreamInfo::default())),
        seq: Arc::new(AtomicU64::new(0)),
    };
    let spec = PipelineSpec {
        name: name.to_string(),
        source,
        fps,
        width,
        decode_threads: cfg.decode_threads,
    };
    let rep = Reporting {
        board: board.clone(),
        slot: slot.clone(),
        analysis_error: Arc::default(),
    };
    let sup = Supervisor::spawn(id, spec, taps, cfg.clone(), rep).unwrap();
    Cam {
        id: id.to_string(),
        board,
        ring,
        slot,
        latest,
        seen,
        sup: Some(sup),
    }
}

impl Cam {
    pub fn status(&self) -> CameraStatus {
        self.board.get(&self.id).unwrap_or_default()
    }

    /// Waits for `state`; panics with the last status after `timeout`.
    pub fn wait_for(&self, state: CameraState, timeout: Duration) -> CameraStatus {
        let t0 = Instant::now();
        loop {
            let s = self.status();
            if s.state == state {
                return s;
            }
            assert!(
                t0.elapsed() < timeout,
                "{}: no {state:?} within {timeout:?}; last status {s:?}",
                self.id
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Frames recorded from now on for `d`.
    pub fn record_for(&self, d: Duration) -> Vec<Seen> {
        let from = self.seen.lock().unwrap().len();
        std::thread::sleep(d);
        self.seen.lock().unwrap()[from..].to_vec()
    }

    pub fn stop(mut self) {
        if let Some(s) = self.sup.take() {
            s.stop();
        }
    }
}

/// Analysis frames per second over `frames`, by their stream timestamps.
pub fn rate(frames: &[Seen]) -> f64 {
    match (frames.first(), frames.last()) {
        (Some(a), Some(b)) if frames.len() > 1 => {
            (frames.len() - 1) as f64 / b.pts.saturating_sub(a.pts).as_secs_f64().max(1e-9)
        }
        _ => 0.0,
    }
}

pub fn now() -> SystemTime {
    SystemTime::now()
}
