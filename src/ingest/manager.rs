//! Follows the camera registry: after every change (the `camera_changes` watch bumped by
//! `CameraService`) it re-reads the store and starts, stops or restarts camera ingests so that
//! every enabled camera has exactly one supervisor with its current URL, credentials, transport
//! and rate, without a service restart. For each running camera it registers the frame slot with
//! the detection scheduler (when detection is available) and hands the camera to the analysis
//! hook ([`crate::analysis`]). It must never decode, detect or serve the API itself.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::clock::StreamClock;
use super::config::IngestConfig;
use super::pipeline::{FrameSink, LatestFrame, PipelineSpec, Source, StreamInfo, Taps};
use super::status::{CameraState, CameraStatus, Counters, StatusBoard};
use super::supervisor::{Reporting, Supervisor};
use crate::analysis::{self, AnalysisDeps, CameraHandles};
use crate::camera::{Analytics, Camera, Credentials, Transport};
use crate::detect::Scheduler;
use crate::error::Result;
use crate::frame::FrameSlot;
use crate::media::ClipRing;
use crate::store::Store;

/// How often the registry is re-read even without a change notice (a missed notice, or a store
/// shared with another node).
const RESYNC: Duration = Duration::from_secs(30);

/// Detection as the manager sees it: a running scheduler, or why there is none.
#[derive(Clone)]
pub enum Detection {
    Running(Arc<Scheduler>),
    Unavailable(String),
}

/// The fields whose change restarts a camera's ingest.
#[derive(Clone, PartialEq)]
struct IngestKey {
    url: String,
    credentials: Option<Credentials>,
    transport: Transport,
    fps: f64,
}

struct Active {
    key: IngestKey,
    /// The camera's zones, lines and rules, followed by its analysis without an ingest restart.
    analytics: watch::Sender<Analytics>,
    supervisor: Option<Supervisor>,
    analysis: Option<JoinHandle<()>>,
}

pub struct Manager {
    store: Arc<dyn Store>,
    board: StatusBoard,
    cfg: IngestConfig,
    detection: Detection,
    deps: AnalysisDeps,
    active: BTreeMap<String, Active>,
    disabled: BTreeMap<String, ()>,
}

impl Manager {
    pub fn new(
        store: Arc<dyn Store>,
        board: StatusBoard,
        cfg: IngestConfig,
        detection: Detection,
        deps: AnalysisDeps,
    ) -> Manager {
        Manager {
            store,
            board,
            cfg,
            detection,
            deps,
            active: BTreeMap::new(),
            disabled: BTreeMap::new(),
        }
    }

    /// Follows the registry until `stop` turns true, then stops every camera.
    pub async fn run(mut self, mut changes: watch::Receiver<u64>, mut stop: watch::Receiver<bool>) {
        loop {
            changes.mark_unchanged();
            match self.read_registry().await {
                Ok(cameras) => self.reconcile(cameras).await,
                Err(error) => tracing::error!(%error, "ingest cannot read the camera registry"),
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { break },
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(RESYNC) => {}
            }
        }
        self.reconcile(Vec::new()).await;
        tracing::info!("ingest stopped");
    }

    async fn read_registry(&self) -> Result<Vec<Camera>> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = store.list_cameras(after.as_deref(), 200)?;
                let done = page.len() < 200;
                after = page.last().map(|c| c.id.clone());
                all.extend(page);
                if done {
                    return Ok(all);
                }
            }
        })
        .await
        .map_err(|e| crate::err!(Internal, "registry read task failed: {e}"))?
    }

    fn key(&self, c: &Camera) -> IngestKey {
        IngestKey {
            url: c.url.clone(),
            credentials: c.credentials.clone(),
            transport: c.transport,
            fps: if c.analysis_fps > 0.0 {
                c.analysis_fps
            } else {
                self.cfg.default_fps
            },
        }
    }

    async fn reconcile(&mut self, cameras: Vec<Camera>) {
        let wanted: BTreeMap<String, Camera> =
            cameras.into_iter().map(|c| (c.id.clone(), c)).collect();
        // Stop what is gone, disabled or changed.
        let stale: Vec<String> = self
            .active
            .iter()
            .filter(|(id, a)| {
                wanted
                    .get(*id)
                    .is_none_or(|c| !c.enabled || self.key(c) != a.key)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(a) = self.active.remove(&id) {
                self.stop_camera(&id, a).await;
            }
        }
        for id in self.disabled.keys().cloned().collect::<Vec<_>>() {
            if wanted.get(&id).is_none_or(|c| c.enabled) {
                self.disabled.remove(&id);
                self.board.remove(&id);
            }
        }
        for (id, c) in &wanted {
            if !c.enabled {
                if self.disabled.insert(id.clone(), ()).is_none() {
                    self.board.remove(id);
                    self.board.publish(CameraStatus {
                        camera: id.clone(),
                        state: CameraState::Disabled,
                        ..CameraStatus::default()
                    });
                }
            } else if let Some(a) = self.active.get(id) {
                a.analytics.send_if_modified(|cur| {
                    let changed = *cur != c.analytics;
                    if changed {
                        *cur = c.analytics.clone();
                    }
                    changed
                });
            } else {
                match self.start_camera(c) {
                    Ok(a) => {
                        self.active.insert(id.clone(), a);
                    }
                    Err(error) => {
                        tracing::error!(camera = %id, %error, "cannot start the camera's ingest")
                    }
                }
            }
        }
    }

    fn start_camera(&self, c: &Camera) -> Result<Active> {
        let key = self.key(c);
        let source = match c.url.strip_prefix("file://") {
            Some(_) => Source::File {
                path: url::Url::parse(&c.url)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| crate::err!(InvalidArgument, "camera.url: not a file path"))?,
                realtime: self.cfg.file_realtime,
            },
            None => Source::Rtsp {
                url: c.url.clone(),
                credentials: c.credentials.clone(),
                transport: c.transport,
            },
        };
        let spec = PipelineSpec {
            name: c.redacted_url(),
            source,
            fps: key.fps,
            width: self.cfg.analysis_width,
            decode_threads: self.cfg.decode_threads,
        };
        let slot = Arc::new(FrameSlot::new());
        let ring = Arc::new(ClipRing::new(self.cfg.pre_roll(), self.cfg.ring_max_bytes));
        let latest = LatestFrame::default();
        let counters = Arc::new(Counters::default());
        let analysis_error = Arc::new(Mutex::new(String::new()));
        let (analytics, analytics_rx) = watch::channel(c.analytics.clone());
        let handles = CameraHandles {
            camera: c.clone(),
            analytics: analytics_rx,
            deps: self.deps.clone(),
            ring: ring.clone(),
            latest: latest.clone(),
            counters: counters.clone(),
            board: self.board.clone(),
        };
        let (frames, analysis): (FrameSink, Option<JoinHandle<()>>) = match &self.detection {
            Detection::Running(s) => match s.register(&c.id, slot.clone()) {
                Ok((feed, rx)) => {
                    let labels: Arc<[String]> = s.labels().into();
                    let task = tokio::spawn(analysis::run_camera(handles, rx, labels));
                    (Arc::new(move |f| feed.offer(f)), Some(task))
                }
                Err(e) => {
                    *analysis_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string();
                    let slot = slot.clone();
                    (Arc::new(move |f| slot.offer(f)), None)
                }
            },
            Detection::Unavailable(why) => {
                *analysis_error.lock().unwrap_or_else(|p| p.into_inner()) = why.clone();
                let slot = slot.clone();
                (Arc::new(move |f| slot.offer(f)), None)
            }
        };
        let taps = Taps {
            ring,
            frames,
            latest,
            clock: Arc::new(StreamClock::new()),
            counters,
            info: Arc::new(Mutex::new(StreamInfo::default())),
            seq: Arc::new(AtomicU64::new(0)),
        };
        let rep = Reporting {
            board: self.board.clone(),
            slot,
            analysis_error,
        };
        let supervisor = Supervisor::spawn(&c.id, spec, taps, self.cfg.clone(), rep)?;
        tracing::info!(camera = %c.id, url = %c.redacted_url(), "ingest started");
        Ok(Active {
            key,
            analytics,
            supervisor: Some(supervisor),
            analysis,
        })
    }

    async fn stop_camera(&self, id: &str, mut a: Active) {
        if let Some(s) = a.supervisor.take() {
            let _ = tokio::task::spawn_blocking(move || s.stop()).await;
        }
        if let Detection::Running(s) = &self.detection {
            s.unregister(id);
        }
        if let Some(t) = a.analysis.take() {
            // The scheduler dropped the sender: the consumer drains and ends.
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                tracing::warn!(camera = %id, "analysis consumer did not stop in time");
            }
        }
        self.board.remove(id);
        tracing::info!(camera = %id, "ingest stopped");
    }
}
