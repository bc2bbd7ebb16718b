//! Conversions between the protobuf messages of `vigil.v1` and vigil's own types. Inbound
//! conversions check what the types cannot (required fields, enum values) and name the field.

use std::time::SystemTime;

use super::pb;
use crate::bail;
use crate::camera::{
    Analytics, Camera, Credentials, Line, LineDirection, Location, Rule, Transport, Zone,
};
use crate::error::Result;
use crate::rules::geometry::Point;
use crate::rules::spec::{IncidentKind, Severity};

pub const CAMERA_PREFIX: &str = "cameras/";

/// `cameras/{id}` -> id, checked.
pub fn camera_id_from_name(field: &str, name: &str) -> Result<String> {
    let Some(id) = name.strip_prefix(CAMERA_PREFIX) else {
        bail!(
            InvalidArgument,
            "{field}: {name:?} is not a camera name (cameras/{{camera_id}})"
        );
    };
    crate::camera::validate_id(field, id)?;
    Ok(id.to_string())
}

pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

pub fn kind_to_pb(k: IncidentKind) -> pb::IncidentKind {
    match k {
        IncidentKind::WrongWay => pb::IncidentKind::WrongWay,
        IncidentKind::StoppedVehicle => pb::IncidentKind::StoppedVehicle,
        IncidentKind::Congestion => pb::IncidentKind::Congestion,
        IncidentKind::PedestrianOnRoad => pb::IncidentKind::PedestrianOnRoad,
        IncidentKind::Intrusion => pb::IncidentKind::Intrusion,
        IncidentKind::Loitering => pb::IncidentKind::Loitering,
        IncidentKind::Crowd => pb::IncidentKind::Crowd,
        IncidentKind::CameraOffline => pb::IncidentKind::CameraOffline,
        IncidentKind::CameraTampering => pb::IncidentKind::CameraTampering,
    }
}

pub fn kind_from_pb(field: &str, v: i32) -> Result<IncidentKind> {
    let Ok(k) = pb::IncidentKind::try_from(v) else {
        bail!(InvalidArgument, "{field}: unknown incident kind {v}")
    };
    IncidentKind::ALL
        .into_iter()
        .find(|&d| kind_to_pb(d) == k)
        .ok_or_else(|| crate::err!(InvalidArgument, "{field}: required"))
}

pub fn severity_to_pb(s: Severity) -> pb::Severity {
    match s {
        Severity::Info => pb::Severity::Info,
        Severity::Warning => pb::Severity::Warning,
        Severity::Critical => pb::Severity::Critical,
    }
}

fn severity_from_pb(field: &str, v: i32) -> Result<Option<Severity>> {
    Ok(match pb::Severity::try_from(v) {
        Ok(pb::Severity::Unspecified) => None,
        Ok(pb::Severity::Info) => Some(Severity::Info),
        Ok(pb::Severity::Warning) => Some(Severity::Warning),
        Ok(pb::Severity::Critical) => Some(Severity::Critical),
        Err(_) => bail!(InvalidArgument, "{field}: unknown severity {v}"),
    })
}

fn point(field: &str, p: Option<&pb::Point>) -> Result<Point> {
    match p {
        Some(p) => Ok(Point::new(p.x, p.y)),
        None => bail!(InvalidArgument, "{field}: required"),
    }
}

fn point_to_pb(p: Point) -> pb::Point {
    pb::Point { x: p.x, y: p.y }
}

pub fn transport_from_pb(field: &str, v: i32) -> Result<Transport> {
    Ok(match pb::Transport::try_from(v) {
        Ok(pb::Transport::Unspecified | pb::Transport::Tcp) => Transport::Tcp,
        Ok(pb::Transport::Udp) => Transport::Udp,
        Err(_) => bail!(InvalidArgument, "{field}: unknown transport {v}"),
    })
}

pub fn analytics_from_pb(c: &pb::Camera) -> Result<Analytics> {
    let zones = c
        .zones
        .iter()
        .map(|z| Zone {
            id: z.id.clone(),
            display_name: z.display_name.clone(),
            polygon: z.polygon.iter().map(|p| Point::new(p.x, p.y)).collect(),
        })
        .collect();
    let mut lines = Vec::with_capacity(c.lines.len());
    for (i, l) in c.lines.iter().enumerate() {
        let f = format!("camera.lines[{i}]");
        let direction = match pb::LineDirection::try_from(l.direction) {
            Ok(pb::LineDirection::Unspecified | pb::LineDirection::Both) => LineDirection::Both,
            Ok(pb::LineDirection::LeftToRight) => LineDirection::LeftToRight,
            Ok(pb::LineDirection::RightToLeft) => LineDirection::RightToLeft,
            Err(_) => bail!(
                InvalidArgument,
                "{f}.direction: unknown direction {}",
                l.direction
            ),
        };
        lines.push(Line {
            id: l.id.clone(),
            display_name: l.display_name.clone(),
            a: point(&format!("{f}.a"), l.a.as_ref())?,
            b: point(&format!("{f}.b"), l.b.as_ref())?,
            direction,
        });
    }
    let mut rules = Vec::with_capacity(c.rules.len());
    for (i, r) in c.rules.iter().enumerate() {
        let f = format!("camera.rules[{i}]");
        rules.push(Rule {
            id: r.id.clone(),
            kind: kind_from_pb(&format!("{f}.kind"), r.kind)?,
            zone_id: r.zone_id.clone(),
            severity: severity_from_pb(&format!("{f}.severity"), r.severity)?,
            classes: r.classes.clone(),
            params: r.params.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            schedule: r.schedule.clone(),
        });
    }
    Ok(Analytics {
        zones,
        lines,
        rules,
    })
}

pub fn location_from_pb(l: Option<&pb::Location>) -> Option<Location> {
    l.map(|l| Location {
        latitude: l.latitude,
        longitude: l.longitude,
        address: l.address.clone(),
    })
}

pub fn credentials_from_pb(c: Option<&pb::Credentials>) -> Option<Credentials> {
    c.filter(|c| !c.username.is_empty() || !c.password.is_empty())
        .map(|c| Credentials {
            username: c.username.clone(),
            password: c.password.clone(),
        })
}

/// The camera as the API shows it: credentials never, the URL with any password redacted.
pub fn camera_to_pb(c: &Camera) -> pb::Camera {
    pb::Camera {
        name: format!("{CAMERA_PREFIX}{}", c.id),
        display_name: c.display_name.clone(),
        url: c.redacted_url(),
        credentials: None,
        has_credentials: c.credentials.is_some(),
        transport: match c.transport {
            Transport::Tcp => pb::Transport::Tcp,
            Transport::Udp => pb::Transport::Udp,
        } as i32,
        enabled: Some(c.enabled),
        location: c.location.as_ref().map(|l| pb::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            address: l.address.clone(),
        }),
        analysis_fps: c.analysis_fps,
        zones: c
            .analytics
            .zones
            .iter()
            .map(|z| pb::Zone {
                id: z.id.clone(),
                display_name: z.display_name.clone(),
                polygon: z.polygon.iter().map(|&p| point_to_pb(p)).collect(),
            })
            .collect(),
        lines: c
            .analytics
            .lines
            .iter()
            .map(|l| pb::Line {
                id: l.id.clone(),
                display_name: l.display_name.clone(),
                a: Some(point_to_pb(l.a)),
                b: Some(point_to_pb(l.b)),
                direction: match l.direction {
                    LineDirection::Both => pb::LineDirection::Both,
                    LineDirection::LeftToRight => pb::LineDirection::LeftToRight,
                    LineDirection::RightToLeft => pb::LineDirection::RightToLeft,
                } as i32,
            })
            .collect(),
        rules: c
            .analytics
            .rules
            .iter()
            .map(|r| pb::Rule {
                id: r.id.clone(),
                kind: kind_to_pb(r.kind) as i32,
                zone_id: r.zone_id.clone(),
                severity: r.severity.map(|s| severity_to_pb(s) as i32).unwrap_or(0),
                classes: r.classes.clone(),
                params: r.params.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                schedule: r.schedule.clone(),
            })
            .collect(),
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
    }
}
