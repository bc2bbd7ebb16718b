//! Conversions between the incident messages of `vigil.v1` and the incident log's own types.
//! Inbound conversions check enum values and names, and name the field.

use std::time::SystemTime;

use super::convert::{CAMERA_PREFIX, kind_to_pb, severity_to_pb, timestamp};
use super::media::MediaFile;
use super::pb;
use crate::bail;
use crate::error::Result;
use crate::incidents::model::{
    AuditEntry, ClipState, EventType, Incident, IncidentEvent, Resolution, Review, SnapshotState,
    Status,
};
use crate::rules::spec::Severity;

pub const INCIDENT_PREFIX: &str = "incidents/";

/// `incidents/{id}` -> id, checked.
pub fn incident_id_from_name(field: &str, name: &str) -> Result<String> {
    let Some(id) = name.strip_prefix(INCIDENT_PREFIX) else {
        bail!(
            InvalidArgument,
            "{field}: {name:?} is not an incident name (incidents/{{incident_id}})"
        );
    };
    crate::camera::validate_id(field, id)?;
    Ok(id.to_string())
}

pub fn status_to_pb(s: Status) -> pb::IncidentStatus {
    match s {
        Status::Open => pb::IncidentStatus::Open,
        Status::Closed => pb::IncidentStatus::Closed,
    }
}

pub fn status_from_pb(field: &str, v: i32) -> Result<Option<Status>> {
    Ok(match pb::IncidentStatus::try_from(v) {
        Ok(pb::IncidentStatus::Unspecified) => None,
        Ok(pb::IncidentStatus::Open) => Some(Status::Open),
        Ok(pb::IncidentStatus::Closed) => Some(Status::Closed),
        Err(_) => bail!(InvalidArgument, "{field}: unknown incident status {v}"),
    })
}

pub fn review_to_pb(r: Review) -> pb::ReviewStatus {
    match r {
        Review::New => pb::ReviewStatus::New,
        Review::Acknowledged => pb::ReviewStatus::Acknowledged,
        Review::Resolved => pb::ReviewStatus::Resolved,
    }
}

pub fn review_from_pb(field: &str, v: i32) -> Result<Option<Review>> {
    Ok(match pb::ReviewStatus::try_from(v) {
        Ok(pb::ReviewStatus::Unspecified) => None,
        Ok(pb::ReviewStatus::New) => Some(Review::New),
        Ok(pb::ReviewStatus::Acknowledged) => Some(Review::Acknowledged),
        Ok(pb::ReviewStatus::Resolved) => Some(Review::Resolved),
        Err(_) => bail!(InvalidArgument, "{field}: unknown review status {v}"),
    })
}

pub fn resolution_to_pb(r: Option<Resolution>) -> pb::Resolution {
    match r {
        None => pb::Resolution::Unspecified,
        Some(Resolution::Confirmed) => pb::Resolution::Confirmed,
        Some(Resolution::FalseAlarm) => pb::Resolution::FalseAlarm,
        Some(Resolution::Duplicate) => pb::Resolution::Duplicate,
    }
}

/// A resolution is required where this is called.
pub fn resolution_from_pb(field: &str, v: i32) -> Result<Resolution> {
    match pb::Resolution::try_from(v) {
        Ok(pb::Resolution::Unspecified) => {
            bail!(
                InvalidArgument,
                "{field}: required (CONFIRMED, FALSE_ALARM or DUPLICATE)"
            )
        }
        Ok(pb::Resolution::Confirmed) => Ok(Resolution::Confirmed),
        Ok(pb::Resolution::FalseAlarm) => Ok(Resolution::FalseAlarm),
        Ok(pb::Resolution::Duplicate) => Ok(Resolution::Duplicate),
        Err(_) => bail!(InvalidArgument, "{field}: unknown resolution {v}"),
    }
}

/// The minimum severity of a subscription; unspecified means any.
pub fn min_severity_from_pb(field: &str, v: i32) -> Result<Option<Severity>> {
    Ok(match pb::Severity::try_from(v) {
        Ok(pb::Severity::Unspecified) => None,
        Ok(pb::Severity::Info) => Some(Severity::Info),
        Ok(pb::Severity::Warning) => Some(Severity::Warning),
        Ok(pb::Severity::Critical) => Some(Severity::Critical),
        Err(_) => bail!(InvalidArgument, "{field}: unknown severity {v}"),
    })
}

pub fn event_type_to_pb(t: EventType) -> pb::IncidentEventType {
    match t {
        EventType::Opened => pb::IncidentEventType::Opened,
        EventType::Updated => pb::IncidentEventType::Updated,
        EventType::Closed => pb::IncidentEventType::Closed,
        EventType::Media => pb::IncidentEventType::Media,
        EventType::Acknowledged => pb::IncidentEventType::Acknowledged,
        EventType::Resolved => pb::IncidentEventType::Resolved,
        EventType::Note => pb::IncidentEventType::Note,
    }
}

fn snapshot_to_pb(s: SnapshotState) -> pb::SnapshotState {
    match s {
        SnapshotState::Pending => pb::SnapshotState::Pending,
        SnapshotState::Available => pb::SnapshotState::Available,
        SnapshotState::Failed => pb::SnapshotState::Failed,
        SnapshotState::Expired => pb::SnapshotState::Expired,
    }
}

fn clip_to_pb(s: ClipState) -> pb::ClipState {
    match s {
        ClipState::Pending => pb::ClipState::Pending,
        ClipState::Ready => pb::ClipState::Ready,
        ClipState::Failed => pb::ClipState::Failed,
        ClipState::Expired => pb::ClipState::Expired,
    }
}

fn ts(t: Option<SystemTime>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

pub fn audit_to_pb(a: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        time: Some(timestamp(a.time)),
        actor: a.actor.clone(),
        action: event_type_to_pb(a.action) as i32,
        resolution: resolution_to_pb(a.resolution) as i32,
        note: a.note.clone(),
    }
}

pub fn incident_to_pb(i: &Incident) -> pb::Incident {
    pb::Incident {
        name: format!("{INCIDENT_PREFIX}{}", i.id),
        camera: format!("{CAMERA_PREFIX}{}", i.camera_id),
        rule_id: i.rule_id.clone(),
        kind: kind_to_pb(i.kind) as i32,
        severity: severity_to_pb(i.severity) as i32,
        zone_id: i.zone_id.clone(),
        status: status_to_pb(i.status) as i32,
        review_status: review_to_pb(i.review) as i32,
        resolution: resolution_to_pb(i.resolution) as i32,
        start_time: Some(timestamp(i.start_time)),
        end_time: ts(i.end_time),
        objects: i
            .objects
            .iter()
            .map(|o| pb::IncidentObject {
                track_id: o.track_id,
                class: o.class.clone(),
                r#box: o.bbox.to_vec(),
            })
            .collect(),
        peak: i.peak.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        summary: i.summary.clone(),
        snapshot: snapshot_to_pb(i.snapshot) as i32,
        clip: Some(pb::Clip {
            state: clip_to_pb(i.clip.state) as i32,
            start_time: ts(i.clip.start),
            end_time: ts(i.clip.end),
        }),
        update_time: Some(timestamp(i.update_time)),
        detect_time: ts(i.detect_time),
        audit: Vec::new(),
        snapshot_url: if i.snapshot == SnapshotState::Available {
            MediaFile::Snapshot.url(&i.id)
        } else {
            String::new()
        },
        clip_url: if i.clip.state == ClipState::Ready {
            MediaFile::Clip.url(&i.id)
        } else {
            String::new()
        },
    }
}

pub fn event_to_pb(e: &IncidentEvent) -> pb::IncidentEvent {
    pb::IncidentEvent {
        sequence: e.sequence,
        r#type: event_type_to_pb(e.event_type) as i32,
        incident: Some(incident_to_pb(&e.incident)),
        time: Some(timestamp(e.time)),
        audit: e.audit.as_ref().map(audit_to_pb),
    }
}

/// A protobuf timestamp as a wall-clock time, named in errors.
pub fn time_from_pb(field: &str, t: &prost_types::Timestamp) -> Result<SystemTime> {
    SystemTime::try_from(*t)
        .map_err(|e| crate::err!(InvalidArgument, "{field}: not a valid time: {e}"))
}
