//! Live status of every camera's ingest: the state machine's current state, counters and measured
//! rates, kept on one [`StatusBoard`] that the API reads and watches, and mirrored into Prometheus
//! (label `camera` = id). Publishing never blocks ingest: the board is a map behind a mutex plus a
//! `watch` generation counter, so a slow watcher only ever sees the latest state (policy: latest
//! wins, intermediate states may be skipped). Never holds credentials or URLs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use tokio::sync::watch;

use crate::err;
use crate::error::Result;
use crate::metrics::Metrics;

/// Where a camera's ingest is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CameraState {
    /// Opening the stream; no frame yet.
    #[default]
    Connecting,
    /// Frames are arriving.
    Streaming,
    /// The last attempt failed; the next one is scheduled.
    Retrying,
    /// The camera is disabled in the registry.
    Disabled,
}

impl CameraState {
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Connecting => "CONNECTING",
            CameraState::Streaming => "STREAMING",
            CameraState::Retrying => "RETRYING",
            CameraState::Disabled => "DISABLED",
        }
    }

    /// The value of the `vigil_ingest_state` gauge.
    pub fn gauge(self) -> i64 {
        match self {
            CameraState::Connecting => 1,
            CameraState::Streaming => 2,
            CameraState::Retrying => 3,
            CameraState::Disabled => 4,
        }
    }
}

/// One camera's status as shown by the API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraStatus {
    pub camera: String,
    pub state: CameraState,
    /// The error that ended the last attempt (kept while streaming again, for diagnosis).
    pub last_error: String,
    /// When the next attempt starts (while `Retrying`).
    pub next_attempt: Option<SystemTime>,
    /// Decoded frames per second, measured over the last second or so.
    pub input_fps: f64,
    /// Frames per second the analysis stage completed.
    pub analysis_fps: f64,
    /// Decoded frames since the camera's ingest started.
    pub frames_in: u64,
    /// Frames the analysis stage completed.
    pub frames_analysed: u64,
    /// Analysis frames pushed out of the mailbox before analysis took them (newest wins).
    pub frames_dropped: u64,
    /// Attempts after the first.
    pub reconnects: u64,
    pub last_frame: Option<SystemTime>,
    /// `H264`, `H265`, or empty before the stream is known.
    pub codec: String,
    /// Native size of the stream.
    pub width: u32,
    pub height: u32,
    /// Empty while detection runs for this camera; otherwise why it does not.
    pub analysis_error: String,
    /// Line-crossing counts since the camera's rules were last loaded (set by its analysis,
    /// kept apart from what ingest publishes, see [`StatusBoard::set_line_counts`]).
    pub line_counts: Vec<LineCount>,
}

/// Objects that crossed one counting line in one direction, of one class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCount {
    pub line_id: String,
    pub class: String,
    /// `LEFT_TO_RIGHT` or `RIGHT_TO_LEFT`.
    pub direction: &'static str,
    pub count: u64,
}

/// Counters updated from streaming threads (lock-free).
#[derive(Default)]
pub struct Counters {
    pub frames_in: AtomicU64,
    pub frames_analysed: AtomicU64,
}

impl Counters {
    pub fn add_in(&self) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_analysed(&self) {
        self.frames_analysed.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct Collectors {
    frames_in: IntCounterVec,
    analysed: IntCounterVec,
    dropped: IntCounterVec,
    reconnects: IntCounterVec,
    state: IntGaugeVec,
}

fn collectors(metrics: &Metrics) -> Result<Collectors> {
    let counter = |name: &str, help: &str| {
        IntCounterVec::new(Opts::new(name, help), &["camera"])
            .map_err(|e| err!(Internal, "metric {name}: {e}"))
    };
    let c = Collectors {
        frames_in: counter("ingest_frames_total", "Frames decoded")?,
        analysed: counter("ingest_frames_analysed_total", "Frames analysed")?,
        dropped: counter(
            "ingest_frames_dropped_total",
            "Analysis frames dropped because analysis was behind (newest wins)",
        )?,
        reconnects: counter("ingest_reconnects_total", "Reconnect attempts")?,
        state: IntGaugeVec::new(
            Opts::new(
                "ingest_state",
                "Ingest state: 1 connecting, 2 streaming, 3 retrying, 4 disabled",
            ),
            &["camera"],
        )
        .map_err(|e| err!(Internal, "metric ingest_state: {e}"))?,
    };
    metrics.register(Box::new(c.frames_in.clone()));
    metrics.register(Box::new(c.analysed.clone()));
    metrics.register(Box::new(c.dropped.clone()));
    metrics.register(Box::new(c.reconnects.clone()));
    metrics.register(Box::new(c.state.clone()));
    Ok(c)
}

/// Every camera's status; cheap to clone.
#[derive(Clone)]
pub struct StatusBoard {
    map: Arc<Mutex<BTreeMap<String, CameraStatus>>>,
    /// Each camera's line counts, from its analysis; merged into the status when read.
    counts: Arc<Mutex<BTreeMap<String, Vec<LineCount>>>>,
    generation: watch::Sender<u64>,
    m: Collectors,
}

impl StatusBoard {
    pub fn new(metrics: &Metrics) -> Result<StatusBoard> {
        Ok(StatusBoard {
            map: Arc::default(),
            counts: Arc::default(),
            generation: watch::channel(0).0,
            m: collectors(metrics)?,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CameraStatus>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_counts(&self, mut s: CameraStatus) -> CameraStatus {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = counts.get(&s.camera) {
            s.line_counts = c.clone();
        }
        s
    }

    /// The status of `camera`, if it is registered.
    pub fn get(&self, camera: &str) -> Option<CameraStatus> {
        let s = self.lock().get(camera).cloned()?;
        Some(self.with_counts(s))
    }

    /// Every camera's status, ordered by id.
    pub fn all(&self) -> Vec<CameraStatus> {
        let all: Vec<CameraStatus> = self.lock().values().cloned().collect();
        all.into_iter().map(|s| self.with_counts(s)).collect()
    }

    /// Replaces `camera`'s line counts (its analysis calls this when a count changes, and with
    /// none when its rules are reloaded).
    pub fn set_line_counts(&self, camera: &str, counts: Vec<LineCount>) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(camera).is_some_and(|c| *c == counts) {
            return;
        }
        map.insert(camera.to_string(), counts);
        drop(map);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Bumped after every change; watchers compare [`StatusBoard::all`] against what they sent.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Replaces `status.camera`'s entry (and updates its metrics) when it changed.
    pub fn publish(&self, status: CameraStatus) {
        let id = status.camera.clone();
        let old = self.lock().insert(id.clone(), status.clone());
        let old = old.unwrap_or_default();
        if old == status {
            return;
        }
        let l = [id.as_str()];
        let delta = |new: u64, old: u64| new.saturating_sub(old);
        self.m
            .frames_in
            .with_label_values(&l)
            .inc_by(delta(status.frames_in, old.frames_in));
        self.m
            .analysed
            .with_label_values(&l)
            .inc_by(delta(status.frames_analysed, old.frames_analysed));
        self.m
            .dropped
            .with_label_values(&l)
            .inc_by(delta(status.frames_dropped, old.frames_dropped));
        self.m
            .reconnects
            .with_label_values(&l)
            .inc_by(delta(status.reconnects, old.reconnects));
        self.m.state.with_label_values(&l).set(status.state.gauge());
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forgets a deleted camera and its metrics.
    pub fn remove(&self, camera: &str) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(camera);
        if self.lock().remove(camera).is_some() {
            let l = [camera];
            let _ = self.m.frames_in.remove_label_values(&l);
            let _ = self.m.analysed.remove_label_values(&l);
            let _ = self.m.dropped.remove_label_values(&l);
            let _ = self.m.reconnects.remove_label_values(&l);
            let _ = self.m.state.remove_label_values(&l);
            self.generation.send_modify(|g| *g += 1);
        }
    }
}

/// Frames per second of a monotonically increasing counter, over windows of about a second.
#[derive(Clone, Copy, Debug)]
pub struct RateMeter {
    since: Instant,
    count: u64,
    fps: f64,
}

impl RateMeter {
    pub fn new(now: Instant, count: u64) -> RateMeter {
        RateMeter {
            since: now,
            count,
            fps: 0.0,
        }
    }

    /// Updates with the counter's value at `now`; returns the current estimate.
    pub fn update(&mut self, now: Instant, count: u64) -> f64 {
        let dt = now.saturating_duration_since(self.since).as_secs_f64();
        if dt >= 1.0 {
            self.fps = count.saturating_sub(self.count) as f64 / dt;
            self.since = now;
            self.count = count;
        }
        self.fps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_meter_measures_per_second() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(t0, 0);
        assert_eq!(m.update(t0 + Duration::from_millis(500), 3), 0.0);
        let fps = m.update(t0 + Duration::from_secs(2), 10);
        assert!((fps - 5.0).abs() < 1e-9, "{fps}");
    }

    #[test]
    fn board_publishes_changes_and_metrics() {
        let metrics = Metrics::new();
        let b = StatusBoard::new(&metrics).unwrap();
        let rx = b.subscribe();
        let mut s = CameraStatus {
            camera: "c1".into(),
            ..Default::default()
        };
        b.publish(s.clone());
        assert_eq!(*rx.borrow(), 1);
        b.publish(s.clone());
        assert_eq!(*rx.borrow(), 1, "unchanged status is not a change");
        s.state = CameraState::Streaming;
        s.frames_in = 7;
        b.publish(s);
        let text = metrics.render();
        assert!(
            text.contains("vigil_ingest_frames_total{camera=\"c1\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("vigil_ingest_state{camera=\"c1\"} 2"),
            "{text}"
        );
        b.remove("c1");
        assert!(b.get("c1").is_none());
        assert!(!metrics.render().contains("camera=\"c1\""));
    }
}
