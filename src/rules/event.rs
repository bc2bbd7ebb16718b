//! What the rule engine tells the incident stage: an incident of one rule opened, changed or
//! closed. This is the contract between `rules` (which decides) and `incidents` (which gives each
//! incident its durable id and sequence numbers, persists and fans out). Times are the camera's
//! stream time (what the rules' clock sees) plus the wall-clock time of the frame that caused the
//! event, so that incidents can be placed on the calendar and clips cut on the stream clock.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::rules::spec::{IncidentKind, Severity};

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The condition has held for the rule's minimum duration.
    Opened,
    /// Still going, and something worth telling changed (more objects, a new peak).
    Updated,
    /// The condition stayed false for the rule's `clear_s` (or the rule or camera went away).
    Closed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Opened => "opened",
            Phase::Updated => "updated",
            Phase::Closed => "closed",
        }
    }
}

/// One object involved in an incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Involved {
    pub track_id: u64,
    /// Class label (COCO name).
    pub class: String,
    /// Box `[x1, y1, x2, y2]` normalised to the frame, as last seen by the rule.
    pub bbox: [f32; 4],
}

/// One step in the life of one incident of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleEvent {
    pub camera_id: String,
    pub rule_id: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    /// The zone or line the rule watches; empty for camera-wide kinds.
    pub zone_id: String,
    /// Identifies the incident within one engine's life: every event of one incident carries the
    /// same key, and keys are never reused by that engine. The incident stage maps it to the
    /// durable incident id.
    pub key: u64,
    pub phase: Phase,
    /// Stream time the condition started to hold (before the minimum duration passed).
    pub start: Duration,
    /// Stream time the condition ended; set on `Closed` only.
    pub end: Option<Duration>,
    /// Stream time of the frame (or clock tick) that caused this event.
    pub at: Duration,
    /// Wall-clock time of that frame.
    pub wall: SystemTime,
    /// Every object involved so far (for `Opened`: those at the start, with their boxes then).
    pub objects: Vec<Involved>,
    /// The rule's peak values so far, by name (`count`, `dwell_s`, `mean_speed`, ...).
    pub peak: BTreeMap<String, f64>,
    /// A short human sentence: "3 persons in zone lawn for 4.0 s".
    pub summary: String,
}

impl RuleEvent {
    /// The wall-clock time of stream time `t`, given that stream time `at` was wall time `wall`
    /// (the frame that caused this event).
    pub fn wall_at(&self, t: Duration) -> SystemTime {
        if t <= self.at {
            self.wall.checked_sub(self.at - t).unwrap_or(self.wall)
        } else {
            self.wall + (t - self.at)
        }
    }
}
