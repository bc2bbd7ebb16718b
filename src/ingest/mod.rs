//! Ingest with GStreamer: one supervised pipeline per camera (RTSP or file), its encoded tap into
//! the pre-roll ring, its analysis tap into the camera's `FrameSlot`, the latest native frame for
//! snapshots, live status, the manager that follows the registry, and a test camera. GStreamer is
//! imported only here (and in `media`). Never runs ONNX Runtime or touches SQLite directly.

pub mod chain;
pub mod clock;
pub mod config;
pub mod manager;
pub mod pipeline;
pub mod reader;
pub mod status;
pub mod supervisor;
pub mod testcam;

use std::sync::OnceLock;

pub use config::IngestConfig;
pub use manager::{Detection, Manager};
pub use pipeline::{LatestFrame, LivePipeline, PipelineSpec, Source, Taps};
pub use reader::{FileReader, ReaderOptions};
pub use status::{CameraState, CameraStatus, Counters, LineCount, StatusBoard};
pub use supervisor::Supervisor;
pub use testcam::{TestCam, TestCamOptions};

use crate::error::Result;

/// Initialises GStreamer once; later calls return the first outcome.
pub fn init() -> Result<()> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gstreamer::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| crate::err!(FailedPrecondition, "GStreamer cannot start: {e}"))
}
