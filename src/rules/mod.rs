//! Analytics rules: the geometry of zones and lines, the incident kinds with their parameters,
//! the rule engine that turns tracks into incident events and line-crossing counts, and camera
//! tampering detection from image statistics (`tamper`).
//! Rules are pure functions of (camera config, tracks, time) plus their own state; this module
//! never touches video, the detector, the store or protobuf types, and never reads a clock.

mod aggregate;
pub mod engine;
pub mod event;
pub mod geometry;
pub mod lifecycle;
mod lines;
mod presence;
pub mod spec;
pub mod tamper;
#[cfg(test)]
mod tests;
mod vehicle;

pub use engine::{CountKey, CrossDirection, Crossing, Engine, FrameInfo};
pub use event::{Involved, Phase, RuleEvent};
