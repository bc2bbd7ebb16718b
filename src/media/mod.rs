//! Media: the encoded stream as ingest hands it over (access units), the per-camera pre-roll ring,
//! clips cut from it without re-encoding, and snapshots. GStreamer may be imported here (and in
//! `ingest`) only. This module must never decode for analysis, run the detector, or touch the
//! store: incidents tell it what to cut, and it tells them what it wrote.

pub mod clip;
pub mod config;
pub mod font;
pub mod paths;
pub mod ring;
pub mod snapshot;
pub mod transcode;
pub mod unit;

pub use clip::{ClipResult, ClipSettings, write_clip};
pub use config::MediaConfig;
pub use ring::{ClipRing, ReadUnits, RingStats};
pub use snapshot::{Annotation, write_snapshots};
pub use unit::{EncodedUnit, VideoCodec};
