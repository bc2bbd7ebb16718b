//! The incident log's vocabulary: the incident record, its review state and media, the events of
//! the log (each with its sequence number) and the audit trail of review actions. Plain data with
//! serde (the store keeps records as JSON); no I/O, no protobuf types.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::rules::spec::{IncidentKind, Severity};

/// Whether the condition is still going.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Open,
    Closed,
}

/// Where an operator is with the incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Review {
    New,
    Acknowledged,
    Resolved,
}

/// How an operator resolved the incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    Confirmed,
    FalseAlarm,
    Duplicate,
}

/// The life of an incident's clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClipState {
    /// Being recorded (or not started yet).
    Pending,
    Ready,
    Failed,
    /// Deleted by retention.
    Expired,
}

/// The life of an incident's snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SnapshotState {
    Pending,
    Available,
    Failed,
    Expired,
}

/// One object involved in an incident (track id, class, normalised box `[x1, y1, x2, y2]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub track_id: u64,
    pub class: String,
    pub bbox: [f32; 4],
}

/// The clip of an incident: its state and, once ready, the real times it covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub state: ClipState,
    pub start: Option<SystemTime>,
    pub end: Option<SystemTime>,
}

/// An incident as the log knows it after its latest event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Durable, globally unique id (`inc-<unix ms>-<random hex>`, a valid `camera::validate_id`).
    pub id: String,
    pub camera_id: String,
    pub rule_id: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    /// The zone or line of the rule; empty for camera-wide kinds.
    pub zone_id: String,
    pub status: Status,
    pub review: Review,
    pub resolution: Option<Resolution>,
    /// Wall-clock time the condition started to hold.
    pub start_time: SystemTime,
    /// Wall-clock time it ended (set when closed).
    pub end_time: Option<SystemTime>,
    /// The objects involved at the start, then every object seen so far.
    pub objects: Vec<Object>,
    pub peak: BTreeMap<String, f64>,
    pub summary: String,
    pub snapshot: SnapshotState,
    pub clip: Clip,
    pub update_time: SystemTime,
    /// Wall-clock arrival of the analysed frame that opened the incident (absent in records
    /// written before this field existed).
    #[serde(default)]
    pub detect_time: Option<SystemTime>,
}

/// What happened to the incident in one event of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Opened,
    Updated,
    Closed,
    /// Its snapshot or clip changed state (ready, failed, expired).
    Media,
    Acknowledged,
    Resolved,
    Note,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Opened => "OPENED",
            EventType::Updated => "UPDATED",
            EventType::Closed => "CLOSED",
            EventType::Media => "MEDIA",
            EventType::Acknowledged => "ACKNOWLEDGED",
            EventType::Resolved => "RESOLVED",
            EventType::Note => "NOTE",
        }
    }
}

/// One committed event: the sequence number is the log's order, never reused.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentEvent {
    pub sequence: u64,
    pub event_type: EventType,
    /// The full record as of this event.
    pub incident: Incident,
    pub time: SystemTime,
    /// For review events: the action recorded in the audit trail.
    pub audit: Option<AuditEntry>,
}

/// A review action, as recorded (append-only) in the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: SystemTime,
    pub actor: String,
    pub action: EventType,
    pub resolution: Option<Resolution>,
    pub note: String,
}

/// What `ListIncidents` selects; empty fields select everything.
#[derive(Clone, Debug, Default)]
pub struct IncidentQuery {
    /// Incidents that started at or after this time.
    pub start_after: Option<SystemTime>,
    /// Incidents that started before this time.
    pub start_before: Option<SystemTime>,
    pub camera_id: Option<String>,
    pub kind: Option<IncidentKind>,
    pub status: Option<Status>,
    pub review: Option<Review>,
}
