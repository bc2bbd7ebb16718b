//! Object detection with ONNX Runtime. This is the only module that imports `ort` (in
//! `session.rs`). It owns model manifests, pre- and post-processing, the detector session and the
//! scheduling of detector threads over cameras; it must never track, apply incident rules or talk
//! to clients.

pub mod config;
pub mod manifest;
pub mod post;
pub mod prep;
pub mod scheduler;
pub mod session;

pub use config::DetectorConfig;
pub use manifest::Manifest;
pub use scheduler::{CameraFeed, DetectionResult, Scheduler};
pub use session::{Detector, StageTimes};

/// One detected object in a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// Index into the model's label set (COCO for the bundled models).
    pub class_id: u16,
    /// Confidence in 0..1.
    pub score: f32,
    /// Box as normalised `[x1, y1, x2, y2]` of the original frame (0..1).
    pub bbox: [f32; 4],
}
