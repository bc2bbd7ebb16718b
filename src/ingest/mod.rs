//! Ingest with GStreamer. GStreamer is imported only here (and in `media`).

pub mod reader;

use std::sync::OnceLock;

pub use reader::{FileReader, ReaderOptions};

use crate::error::Result;

/// Initialises GStreamer once; later calls return the first outcome.
pub fn init() -> Result<()> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gstreamer::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| crate::err!(FailedPrecondition, "GStreamer cannot start: {e}"))
}
