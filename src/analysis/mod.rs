//! The per-camera analysis consumer: where a camera's detection results become tracks, tracks
//! become rule events, and rule events become committed incidents with a snapshot and a clip.
//! One task per running camera receives its `DetectionResult`s in order together with the
//! camera's handles (registry entry, pre-roll ring, latest native frame, counters).
//!
//! This module owns the order of things for one camera: track, evaluate the rules, commit each
//! event to the incident log (waiting for it: incidents are never dropped), then start the media
//! of an opened incident in the background. It must never decode video, run the detector, or
//! block a tokio worker (snapshots and clips run on blocking threads, see [`media`]).

mod media;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::camera::{Analytics, Camera};
use crate::detect::DetectionResult;
use crate::incidents::{EngineToken, IncidentLog};
use crate::ingest::{Counters, LatestFrame, LineCount, StatusBoard};
use crate::media::ClipRing;
use crate::media::clip::ClipUntil;
use crate::media::config::MediaConfig;
use crate::rules::engine::{Crossing, Engine, FrameInfo};
use crate::rules::{Phase, RuleEvent};
use crate::track::{Tracker, TrackerConfig};

/// How often time is pushed into the rules without a frame (camera offline, closing incidents
/// whose objects vanished with the stream).
const IDLE_TICK: Duration = Duration::from_secs(1);

/// How long a stopping camera waits for its snapshots and clips to be finished and recorded.
const MEDIA_DRAIN: Duration = Duration::from_secs(4);

/// What every camera's analysis shares: the incident log, where media goes, and metrics.
#[derive(Clone)]
pub struct AnalysisDeps {
    pub incidents: IncidentLog,
    pub data_dir: PathBuf,
    pub media: MediaConfig,
    pub metrics: AnalysisMetrics,
}

/// The analysis stage's Prometheus metrics.
#[derive(Clone)]
pub struct AnalysisMetrics {
    /// Line crossings by camera, line, class and direction (traffic volume statistics).
    crossings: IntCounterVec,
    /// From the arrival of the frame that opened an incident to its commit in the log.
    open_latency: Histogram,
}

impl AnalysisMetrics {
    pub fn new(m: &crate::metrics::Metrics) -> AnalysisMetrics {
        let crossings = IntCounterVec::new(
            Opts::new(
                "line_crossings_total",
                "objects that crossed a counting line, by camera, line, class and direction",
            ),
            &["camera", "line", "class", "direction"],
        )
        .expect("static metric");
        let open_latency = Histogram::with_opts(
            HistogramOpts::new(
                "incident_open_latency_seconds",
                "from the arrival of the frame that opened an incident to the incident's commit",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0,
            ]),
        )
        .expect("static metric");
        m.register(Box::new(crossings.clone()));
        m.register(Box::new(open_latency.clone()));
        AnalysisMetrics {
            crossings,
            open_latency,
        }
    }
}

/// What the analysis of one camera can reach.
#[derive(Clone)]
pub struct CameraHandles {
    /// The camera as registered when its ingest started.
    pub camera: Camera,
    /// The camera's zones, lines and rules; a change restarts the rule engine (not the ingest).
    pub analytics: watch::Receiver<Analytics>,
    /// Encoded pre-roll, for clips.
    pub ring: Arc<ClipRing>,
    /// The newest decoded frame at native size; [`LatestFrame::snapshot`] converts it.
    pub latest: LatestFrame,
    /// Counts analysed frames (the camera's status shows them and the analysis rate).
    pub counters: Arc<Counters>,
    pub board: StatusBoard,
    pub deps: AnalysisDeps,
}

/// The rule engine of one camera with its life in the incident log.
struct Rules {
    engine: Engine,
    token: EngineToken,
    analytics: Analytics,
}

impl Rules {
    fn new(h: &CameraHandles, analytics: Analytics, labels: &[String]) -> Rules {
        Rules {
            engine: Engine::new(&h.camera.id, &analytics, labels),
            token: h.deps.incidents.engine(),
            analytics,
        }
    }
}

/// The snapshot and clip jobs of one camera's incidents.
struct MediaJobs {
    running: JoinSet<()>,
    /// Set when the camera stops: clips end with what they have.
    stop: Arc<AtomicBool>,
    /// The end of each open incident, as its clip writer sees it, by incident id. An entry
    /// lives from OPENED to CLOSED, so there are at most as many as open incidents.
    open: HashMap<String, Arc<ClipUntil>>,
}

impl MediaJobs {
    fn new() -> MediaJobs {
        MediaJobs {
            running: JoinSet::new(),
            stop: Arc::new(AtomicBool::new(false)),
            open: HashMap::new(),
        }
    }

    fn start(&mut self, job: media::Job, id: String) {
        let until = Arc::new(ClipUntil::open());
        self.open.insert(id.clone(), until.clone());
        self.running.spawn(job.run(id, until, self.stop.clone()));
    }

    /// The incident ended at `end`: its clip runs to there (or its post-roll, if later).
    fn close(&mut self, id: &str, end: Duration) {
        if let Some(until) = self.open.remove(id) {
            until.close(end);
        }
    }

    /// Stops every clip, then waits (bounded) for the jobs to record their results.
    async fn drain(mut self, camera: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let drained = tokio::time::timeout(MEDIA_DRAIN, async {
            while self.running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(%camera, "snapshots or clips still being written at stop");
        }
    }
}

/// The stream time handed to the rules: the frames' own times, or, between frames, the last
/// frame's time plus the time since it arrived; never decreasing.
#[derive(Default)]
struct RuleClock {
    last: Option<(Duration, Instant)>,
    now: Duration,
    started: Option<Instant>,
}

impl RuleClock {
    fn frame(&mut self, pts: Duration) -> Duration {
        self.last = Some((pts, Instant::now()));
        self.now = self.now.max(pts);
        self.now
    }

    fn idle(&mut self) -> Duration {
        let t = match self.last {
            Some((pts, at)) => pts + at.elapsed(),
            None => self.started.get_or_insert_with(Instant::now).elapsed(),
        };
        self.now = self.now.max(t);
        self.now
    }
}

/// Consumes one camera's detection results until the scheduler drops the sender (the camera was
/// stopped). `labels` are the model's class names.
pub async fn run_camera(
    mut h: CameraHandles,
    mut rx: mpsc::Receiver<DetectionResult>,
    labels: Arc<[String]>,
) {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let initial = h.analytics.borrow_and_update().clone();
    let mut rules = Rules::new(&h, initial, &labels);
    let mut clock = RuleClock::default();
    clock.idle();
    let mut events: Vec<RuleEvent> = Vec::new();
    let mut crossings: Vec<Crossing> = Vec::new();
    let mut media = MediaJobs::new();
    let mut tick = tokio::time::interval(IDLE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = rx.recv() => {
                let Some(r) = r else { break };
                let t = clock.frame(r.pts);
                let tracks = tracker.update(r.pts, &r.detections);
                let info = FrameInfo {
                    t,
                    wall: r.arrived,
                    aspect: f64::from(r.width.max(1)) / f64::from(r.height.max(1)),
                };
                if let Some(thumb) = &r.thumb {
                    rules.engine.on_view(t, r.arrived, thumb, &mut events);
                }
                rules.engine.on_frame(info, tracks, &mut events, &mut crossings);
                h.counters.add_analysed();
            }
            _ = tick.tick() => {
                rules.engine.on_idle(clock.idle(), SystemTime::now(), &mut events);
            }
            changed = h.analytics.changed() => {
                if changed.is_err() {
                    break;
                }
                let next = h.analytics.borrow_and_update().clone();
                rules.engine.close_all(clock.idle(), SystemTime::now(), &mut events);
                deliver(&h, &rules, &mut events, &mut media).await;
                tracing::info!(camera = %h.camera.id, "rules changed: rule engine restarted");
                rules = Rules::new(&h, next, &labels);
                h.board.set_line_counts(&h.camera.id, Vec::new());
            }
        }
        count(&h, &rules.engine, &mut crossings);
        deliver(&h, &rules, &mut events, &mut media).await;
        while media.running.try_join_next().is_some() {}
    }
    rules
        .engine
        .close_all(clock.idle(), SystemTime::now(), &mut events);
    deliver(&h, &rules, &mut events, &mut media).await;
    // The stream is gone: clips end with what they have, and their state is recorded.
    media.drain(&h.camera.id).await;
    tracing::debug!(camera = %h.camera.id, ids = tracker.ids_issued(), "analysis stopped");
}

/// Counts the crossings in the metrics and, when there were any, shows the engine's totals in
/// the camera's status.
fn count(h: &CameraHandles, engine: &Engine, crossings: &mut Vec<Crossing>) {
    if crossings.is_empty() {
        return;
    }
    for c in crossings.drain(..) {
        h.deps
            .metrics
            .crossings
            .with_label_values(&[
                h.camera.id.as_str(),
                c.line_id.as_str(),
                c.class.as_str(),
                c.direction.as_str(),
            ])
            .inc();
    }
    h.board.set_line_counts(&h.camera.id, line_counts(engine));
}

fn line_counts(engine: &Engine) -> Vec<LineCount> {
    engine
        .counts()
        .iter()
        .map(|(k, n)| LineCount {
            line_id: k.line_id.clone(),
            class: k.class.clone(),
            direction: k.direction.as_str(),
            count: *n,
        })
        .collect()
}

/// Commits each event (waiting: the log's queue blocks, it never drops), then starts the
/// snapshot and clip of every opened incident and tells the clip of a closed one where to end.
async fn deliver(
    h: &CameraHandles,
    rules: &Rules,
    events: &mut Vec<RuleEvent>,
    media: &mut MediaJobs,
) {
    for ev in events.drain(..) {
        let opened = ev.phase == Phase::Opened;
        let closed = (ev.phase == Phase::Closed).then(|| ev.end.unwrap_or(ev.at));
        let arrived = ev.wall;
        let job = opened.then(|| media::Job::new(h, &rules.analytics, &ev));
        match h.deps.incidents.submit(rules.token, ev).await {
            Ok(committed) => {
                if let Some(end) = closed {
                    media.close(&committed.incident.id, end);
                }
                if let Some(job) = job {
                    if let Ok(d) = SystemTime::now().duration_since(arrived) {
                        h.deps.metrics.open_latency.observe(d.as_secs_f64());
                    }
                    tracing::info!(
                        camera = %h.camera.id,
                        incident = %committed.incident.id,
                        kind = committed.incident.kind.as_str(),
                        summary = %committed.incident.summary,
                        "incident opened"
                    );
                    media.start(job, committed.incident.id);
                }
            }
            Err(error) => {
                tracing::error!(camera = %h.camera.id, %error, "incident event not committed")
            }
        }
    }
}
