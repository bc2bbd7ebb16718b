//! Analytics rules: the geometry of zones and lines, the incident kinds with their parameters, and
//! camera tampering detection from image statistics (`tamper`).
//! Rules are pure functions of (camera config, tracks, time) plus their own state; this module
//! never touches video, the detector, the store or protobuf types.

pub mod event;
pub mod geometry;
pub mod spec;
pub mod tamper;

pub use event::{Involved, Phase, RuleEvent};
