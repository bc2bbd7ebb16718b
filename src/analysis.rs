//! The per-camera analysis consumer: the hook where a camera's detection results become tracks
//! (and, next, rule events and incidents). One task per running camera receives its
//! `DetectionResult`s in order together with the camera's handles (registry entry, pre-roll ring,
//! latest native frame, counters). This module owns what happens to results; it must never block
//! on I/O in the task (store writes go to `spawn_blocking`), decode video or run the detector.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::camera::Camera;
use crate::detect::DetectionResult;
use crate::ingest::{Counters, LatestFrame, StatusBoard};
use crate::media::ClipRing;
use crate::track::{Tracker, TrackerConfig};

/// What the analysis of one camera can reach.
#[derive(Clone)]
pub struct CameraHandles {
    /// The camera as registered when its ingest started (analytics included).
    pub camera: Camera,
    /// Encoded pre-roll, for clips.
    pub ring: Arc<ClipRing>,
    /// The newest decoded frame at native size; [`LatestFrame::snapshot`] converts it.
    pub latest: LatestFrame,
    /// Counts analysed frames (the camera's status shows them and the analysis rate).
    pub counters: Arc<Counters>,
    pub board: StatusBoard,
}

/// Consumes one camera's detection results until the scheduler drops the sender (the camera was
/// stopped). `labels` are the model's class names.
pub async fn run_camera(
    h: CameraHandles,
    mut rx: mpsc::Receiver<DetectionResult>,
    labels: Arc<[String]>,
) {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let _ = &labels;
    while let Some(r) = rx.recv().await {
        tracker.update(r.pts, &r.detections);
        h.counters.add_analysed();
    }
    tracing::debug!(camera = %h.camera.id, ids = tracker.ids_issued(), "analysis stopped");
}
