//! Scheduling detection over cameras: N named OS threads (`vigil-detect-{i}`), each owning one
//! [`Detector`], serve the cameras' newest frames round-robin and deliver results on a bounded
//! channel per camera. This module owns that policy and its metrics; it must never block ingest,
//! let one camera or one slow consumer hold up the others, or run inference on a tokio worker.
//!
//! Policy, per stage:
//! - Input: each camera's [`FrameSlot`] holds at most two frames, oldest taken first; frames that
//!   analysis cannot keep up with are pushed out (and counted) there, never queued further.
//! - Choice: a free worker takes the next camera, in round-robin order after the last one served,
//!   that has a frame pending, is not being processed by another worker (so a camera's results
//!   stay in order) and has room in its result channel. A camera offering frames constantly
//!   therefore cannot starve the others.
//! - Output: each camera has a bounded `tokio::sync::mpsc` channel of `result_capacity`. Room is
//!   reserved before inference, and while the channel is full the camera is skipped: its frames
//!   keep pushing each other out of the slot (counted as dropped there) until the consumer catches
//!   up. A worker never waits on a consumer, and no result is ever discarded. When the receiver
//!   is dropped the camera is unregistered.
//! - Wake-ups: [`CameraFeed::offer`] signals a condition variable; frames put into the slot
//!   directly and room made by a consumer are noticed at the latest after [`RECHECK`].

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use tokio::sync::mpsc;

use crate::detect::manifest::Manifest;
use crate::detect::session::StageTimes;
use crate::detect::{Detection, Detector, DetectorConfig};
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::{Frame, FrameSlot, Thumbnail};
use crate::metrics::Metrics;
use crate::{bail, err};

/// How long an idle worker sleeps before looking at the slots again without a wake-up.
pub const RECHECK: Duration = Duration::from_millis(25);

/// Detections of one frame.
#[derive(Clone, Debug)]
pub struct DetectionResult {
    pub camera: Arc<str>,
    /// The frame's `seq`, `pts`, arrival time and size.
    pub seq: u64,
    pub pts: Duration,
    pub arrived: SystemTime,
    pub width: u32,
    pub height: u32,
    /// Boxes normalised to the frame, highest score first.
    pub detections: Vec<Detection>,
    /// From the frame's arrival to the start of its detection.
    pub queue_wait: Duration,
    /// Pre-processing, inference and post-processing, as a whole.
    pub inference: Duration,
    /// The same, by stage.
    pub stages: StageTimes,
    /// A small grey copy of the analysed frame, for image statistics (tampering); made by the
    /// worker after inference, while it still holds the frame.
    pub thumb: Option<Thumbnail>,
}

struct Camera {
    id: Arc<str>,
    slot: Arc<FrameSlot>,
    tx: mpsc::Sender<DetectionResult>,
    busy: bool,
}

struct State {
    cameras: Vec<Camera>,
    /// Index where the next round-robin scan starts.
    next: usize,
    stopping: bool,
}

struct Collectors {
    inference: HistogramVec,
    queue_wait: HistogramVec,
    errors: IntCounterVec,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    m: Collectors,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes a worker; taking the lock first means a worker between its check and its wait
    /// cannot miss the signal.
    fn notify(&self) {
        drop(self.lock());
        self.wake.notify_one();
    }
}

/// The ingest side of a registered camera.
#[derive(Clone)]
pub struct CameraFeed {
    slot: Arc<FrameSlot>,
    shared: Arc<Shared>,
}

impl CameraFeed {
    /// Puts `frame` in the camera's slot (the oldest pending frame may be dropped) and wakes a worker. Never waits for
    /// inference.
    pub fn offer(&self, frame: Frame) {
        self.slot.offer(frame);
        self.shared.notify();
    }

    pub fn slot(&self) -> &Arc<FrameSlot> {
        &self.slot
    }
}

/// Detector threads serving registered cameras. Dropping it stops and joins the threads.
pub struct Scheduler {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    labels: Vec<String>,
    capacity: usize,
}

impl Scheduler {
    /// Loads `config.workers` detectors of `config.model` and starts their threads. Blocking
    /// (loads models): call it from a plain thread or `spawn_blocking`.
    pub fn start(config: &DetectorConfig, metrics: &Metrics) -> Result<Scheduler> {
        config.validate()?;
        Scheduler::start_with(Manifest::find(&config.model)?, config, metrics)
    }

    /// As [`Scheduler::start`], with the model given by its manifest (`config.model` unused).
    pub fn start_with(
        manifest: Manifest,
        config: &DetectorConfig,
        metrics: &Metrics,
    ) -> Result<Scheduler> {
        config.validate()?;
        let detectors = (0..config.workers)
            .map(|_| Detector::from_manifest(manifest.clone(), config))
            .collect::<Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                cameras: Vec::new(),
                next: 0,
                stopping: false,
            }),
            wake: Condvar::new(),
            m: collectors(metrics)?,
        });
        let mut s = Scheduler {
            shared,
            workers: Vec::new(),
            labels: manifest.labels.clone(),
            capacity: config.result_capacity,
        };
        for (i, det) in detectors.into_iter().enumerate() {
            let shared = s.shared.clone();
            let h = std::thread::Builder::new()
                .name(format!("vigil-detect-{i}"))
                .spawn(move || worker(&shared, det))
                .ctx(ErrorKind::Internal, format!("starting detector thread {i}"))?;
            s.workers.push(h);
        }
        tracing::info!(
            model = %manifest.name,
            workers = config.workers,
            intra_threads = config.intra_threads,
            "detection started"
        );
        Ok(s)
    }

    /// Class labels of the model; a [`Detection::class_id`] indexes this.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Registers `camera` with its slot; results arrive on the returned receiver (bounded by
    /// `result_capacity`). Dropping the receiver unregisters the camera.
    pub fn register(
        &self,
        camera: &str,
        slot: Arc<FrameSlot>,
    ) -> Result<(CameraFeed, mpsc::Receiver<DetectionResult>)> {
        let (tx, rx) = mpsc::channel(self.capacity);
        let mut st = self.shared.lock();
        if st.stopping {
            bail!(Unavailable, "detection is shutting down");
        }
        if st.cameras.iter().any(|c| &*c.id == camera) {
            bail!(
                AlreadyExists,
                "camera {camera} is already registered for detection"
            );
        }
        st.cameras.push(Camera {
            id: camera.into(),
            slot: slot.clone(),
            tx,
            busy: false,
        });
        drop(st);
        self.shared.wake.notify_one();
        let feed = CameraFeed {
            slot,
            shared: self.shared.clone(),
        };
        Ok((feed, rx))
    }

    /// Stops serving `camera`; returns whether it was registered. A frame in flight still
    /// delivers its result.
    pub fn unregister(&self, camera: &str) -> bool {
        let removed = remove_camera(&mut self.shared.lock(), camera);
        if removed {
            self.shared.m.forget(camera);
        }
        removed
    }

    /// The cameras being served.
    pub fn cameras(&self) -> Vec<Arc<str>> {
        self.shared
            .lock()
            .cameras
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    /// Stops the threads after their current frame and joins them.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        for h in self.workers.drain(..) {
            let name = h.thread().name().unwrap_or("vigil-detect").to_string();
            if h.join().is_err() {
                tracing::error!(thread = %name, "detector thread panicked");
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn remove_camera(st: &mut State, camera: &str) -> bool {
    let before = st.cameras.len();
    st.cameras.retain(|c| &*c.id != camera);
    st.cameras.len() != before
}

impl Collectors {
    fn forget(&self, camera: &str) {
        let _ = self.inference.remove_label_values(&[camera]);
        let _ = self.queue_wait.remove_label_values(&[camera]);
        let _ = self.errors.remove_label_values(&[camera]);
    }
}

fn collectors(metrics: &Metrics) -> Result<Collectors> {
    let secs = vec![
        0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
    ];
    let hist = |name: &str, help: &str| {
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(secs.clone()),
            &["camera"],
        )
        .map_err(|e| err!(Internal, "metric {name}: {e}"))
    };
    let m = Collectors {
        inference: hist(
            "detect_inference_seconds",
            "Pre-processing, inference and post-processing of one frame",
        )?,
        queue_wait: hist(
            "detect_queue_wait_seconds",
            "From a frame's arrival to the start of its detection",
        )?,
        errors: IntCounterVec::new(
            Opts::new("detect_errors_total", "Frames whose detection failed"),
            &["camera"],
        )
        .map_err(|e| err!(Internal, "metric detect_errors_total: {e}"))?,
    };
    metrics.register(Box::new(m.inference.clone()));
    metrics.register(Box::new(m.queue_wait.clone()));
    metrics.register(Box::new(m.errors.clone()));
    Ok(m)
}

struct Job {
    camera: Arc<str>,
    frame: Frame,
    permit: mpsc::OwnedPermit<DetectionResult>,
}

/// Waits for the next camera with a frame and room for its result, round-robin; `None` when
/// stopping. Cameras whose receiver is gone are unregistered on the way.
fn next_job(shared: &Shared) -> Option<Job> {
    let mut st = shared.lock();
    loop {
        if st.stopping {
            return None;
        }
        let n = st.cameras.len();
        let mut closed = None;
        for k in 0..n {
            let i = (st.next + k) % n;
            let c = &mut st.cameras[i];
            if c.busy || !c.slot.is_pending() {
                continue;
            }
            let permit = match c.tx.clone().try_reserve_owned() {
                Ok(p) => p,
                Err(mpsc::error::TrySendError::Full(_)) => continue,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    closed = Some(c.id.clone());
                    break;
                }
            };
            let Some(frame) = c.slot.take() else {
                continue;
            };
            c.busy = true;
            let job = Job {
                camera: c.id.clone(),
                frame,
                permit,
            };
            st.next = i + 1;
            return Some(job);
        }
        if let Some(id) = closed {
            remove_camera(&mut st, &id);
            shared.m.forget(&id);
            tracing::info!(camera = %id, "detection receiver gone: camera unregistered");
            continue;
        }
        st = shared
            .wake
            .wait_timeout(st, RECHECK)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

fn worker(shared: &Shared, mut det: Detector) {
    let mut errors: u64 = 0;
    while let Some(job) = next_job(shared) {
        let cam: &str = &job.camera;
        let f = &job.frame;
        let queue_wait = SystemTime::now()
            .duration_since(f.arrived)
            .unwrap_or_default();
        shared
            .m
            .queue_wait
            .with_label_values(&[cam])
            .observe(queue_wait.as_secs_f64());
        let t0 = Instant::now();
        match det.detect(f) {
            Ok(dets) => {
                let inference = t0.elapsed();
                let detections = dets.to_vec();
                shared
                    .m
                    .inference
                    .with_label_values(&[cam])
                    .observe(inference.as_secs_f64());
                job.permit.send(DetectionResult {
                    camera: job.camera.clone(),
                    seq: f.seq,
                    pts: f.pts,
                    arrived: f.arrived,
                    width: f.width,
                    height: f.height,
                    detections,
                    queue_wait,
                    inference,
                    stages: det.last_times(),
                    thumb: Some(Thumbnail::from_frame(f)),
                });
            }
            Err(error) => {
                shared.m.errors.with_label_values(&[cam]).inc();
                errors += 1;
                // A camera sending bad frames would otherwise log at frame rate.
                if errors.is_power_of_two() {
                    tracing::warn!(%error, camera = %cam, seq = f.seq, errors, "detection failed");
                }
            }
        }
        let mut st = shared.lock();
        if let Some(c) = st
            .cameras
            .iter_mut()
            .find(|c| Arc::ptr_eq(&c.id, &job.camera))
        {
            c.busy = false;
        }
        drop(st);
        // The camera may hold a newer frame that another idle worker can now take.
        shared.wake.notify_all();
    }
}
