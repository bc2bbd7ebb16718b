//! The incident kinds and, for each, the parameters a rule of that kind accepts: name, default,
//! allowed range and meaning. This table is the single source for validating rules in the registry
//! and for the rule engine's defaults; the README's rule table mirrors it.

use serde::{Deserialize, Serialize};

/// What an incident is about. Names match the gRPC enum `vigil.v1.IncidentKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentKind {
    WrongWay,
    StoppedVehicle,
    Congestion,
    PedestrianOnRoad,
    Intrusion,
    Loitering,
    Crowd,
    CameraOffline,
    CameraTampering,
}

/// How urgent an incident is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One numeric parameter of a rule kind.
#[derive(Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

/// What a rule of one kind needs and accepts.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: IncidentKind,
    /// Whether the rule watches a zone (`zone_id` required) or the whole camera (none allowed).
    pub needs_zone: bool,
    /// Classes used when the rule names none.
    pub default_classes: &'static [&'static str],
    pub default_severity: Severity,
    pub params: &'static [ParamSpec],
}

const fn p(name: &'static str, default: f64, min: f64, max: f64, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        default,
        min,
        max,
        doc,
    }
}

/// Vehicle classes of the COCO label set.
pub const VEHICLES: &[&str] = &["car", "motorcycle", "bus", "truck"];
const PERSON: &[&str] = &["person"];

/// Parameters every zone rule accepts besides its own.
pub const COMMON: &[ParamSpec] = &[
    p(
        "clear_s",
        3.0,
        0.0,
        3600.0,
        "seconds the condition must stay false before the incident closes (hysteresis)",
    ),
    p(
        "cooldown_s",
        60.0,
        0.0,
        86400.0,
        "seconds after an incident closes during which the same object or zone does not raise it again",
    ),
];

static SPECS: &[KindSpec] = &[
    KindSpec {
        kind: IncidentKind::WrongWay,
        needs_zone: true,
        default_classes: VEHICLES,
        default_severity: Severity::Critical,
        params: &[
            p(
                "dx",
                0.0,
                -1.0,
                1.0,
                "lane direction, x component (normalised frame units; need not be unit length)",
            ),
            p(
                "dy",
                1.0,
                -1.0,
                1.0,
                "lane direction, y component (y points down the frame)",
            ),
            p(
                "min_distance",
                0.05,
                0.0,
                2.0,
                "distance a track must travel against the lane, in frame heights",
            ),
            p(
                "min_duration_s",
                1.0,
                0.0,
                600.0,
                "seconds a track must move against the lane",
            ),
            p(
                "max_angle_deg",
                60.0,
                1.0,
                90.0,
                "largest angle between the motion and the reversed lane direction that counts as against it",
            ),
        ],
    },
    KindSpec {
        kind: IncidentKind::StoppedVehicle,
        needs_zone: true,
        default_classes: VEHICLES,
        default_severity: Severity::Warning,
        params: &[
            p(
                "dwell_s",
                30.0,
                1.0,
                86400.0,
                "seconds a vehicle must stay nearly still inside the zone",
            ),
            p(
                "motion_tolerance",
                0.01,
                0.0,
                1.0,
                "largest speed still counted as stopped, in frame heights per second",
            ),
        ],
    },
    KindSpec {
        kind: IncidentKind::Congestion,
        needs_zone: true,
        default_classes: VEHICLES,
        default_severity: Severity::Warning,
        params: &[
            p(
                "min_vehicles",
                8.0,
                1.0,
                1000.0,
                "vehicles that must be inside the zone",
            ),
            p(
                "max_mean_speed",
                0.02,
                0.0,
                1.0,
                "largest mean speed of those vehicles, in frame heights per second",
            ),
            p(
                "min_duration_s",
                30.0,
                0.0,
                3600.0,
                "seconds the condition must hold",
            ),
        ],
    },
    KindSpec {
        kind: IncidentKind::PedestrianOnRoad,
        needs_zone: true,
        default_classes: PERSON,
        default_severity: Severity::Warning,
        params: &[p(
            "min_duration_s",
            2.0,
            0.0,
            600.0,
            "seconds a person must be inside the roadway zone",
        )],
    },
    KindSpec {
        kind: IncidentKind::Intrusion,
        needs_zone: true,
        default_classes: PERSON,
        default_severity: Severity::Critical,
        params: &[p(
            "min_duration_s",
            0.5,
            0.0,
            600.0,
            "seconds an object must be inside the restricted zone",
        )],
    },
    KindSpec {
        kind: IncidentKind::Loitering,
        needs_zone: true,
        default_classes: PERSON,
        default_severity: Severity::Warning,
        params: &[p(
            "dwell_s",
            60.0,
            1.0,
            86400.0,
            "seconds a person must stay inside the zone",
        )],
    },
    KindSpec {
        kind: IncidentKind::Crowd,
        needs_zone: true,
        default_classes: PERSON,
        default_severity: Severity::Warning,
        params: &[
            p(
                "min_persons",
                10.0,
                2.0,
                10000.0,
                "persons that must be inside the zone",
            ),
            p(
                "min_duration_s",
                10.0,
                0.0,
                3600.0,
                "seconds the count must hold",
            ),
        ],
    },
    KindSpec {
        kind: IncidentKind::CameraOffline,
        needs_zone: false,
        default_classes: &[],
        default_severity: Severity::Critical,
        params: &[p(
            "timeout_s",
            30.0,
            1.0,
            86400.0,
            "seconds without a frame before the camera counts as offline",
        )],
    },
    KindSpec {
        kind: IncidentKind::CameraTampering,
        needs_zone: false,
        default_classes: &[],
        default_severity: Severity::Critical,
        params: &[
            p(
                "sensitivity",
                0.5,
                0.0,
                1.0,
                "0 = only gross tampering, 1 = react to small changes of the view",
            ),
            p(
                "min_duration_s",
                3.0,
                0.0,
                600.0,
                "seconds the view must stay changed",
            ),
        ],
    },
];

impl IncidentKind {
    pub const ALL: [IncidentKind; 9] = [
        IncidentKind::WrongWay,
        IncidentKind::StoppedVehicle,
        IncidentKind::Congestion,
        IncidentKind::PedestrianOnRoad,
        IncidentKind::Intrusion,
        IncidentKind::Loitering,
        IncidentKind::Crowd,
        IncidentKind::CameraOffline,
        IncidentKind::CameraTampering,
    ];

    pub fn spec(self) -> &'static KindSpec {
        SPECS
            .iter()
            .find(|s| s.kind == self)
            .expect("every kind has a spec")
    }

    /// The kind's name as in the API (`WRONG_WAY`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::WrongWay => "WRONG_WAY",
            IncidentKind::StoppedVehicle => "STOPPED_VEHICLE",
            IncidentKind::Congestion => "CONGESTION",
            IncidentKind::PedestrianOnRoad => "PEDESTRIAN_ON_ROAD",
            IncidentKind::Intrusion => "INTRUSION",
            IncidentKind::Loitering => "LOITERING",
            IncidentKind::Crowd => "CROWD",
            IncidentKind::CameraOffline => "CAMERA_OFFLINE",
            IncidentKind::CameraTampering => "CAMERA_TAMPERING",
        }
    }
}

impl KindSpec {
    /// The spec of parameter `name`, among the kind's own and (for zone rules) the common ones.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        let common: &'static [ParamSpec] = if self.needs_zone { COMMON } else { &[] };
        self.params.iter().chain(common).find(|p| p.name == name)
    }

    /// Every parameter name the kind accepts, for error messages.
    pub fn param_names(&self) -> Vec<&'static str> {
        let common: &'static [ParamSpec] = if self.needs_zone { COMMON } else { &[] };
        self.params.iter().chain(common).map(|p| p.name).collect()
    }
}

/// The 80 COCO class names, index = class id (the label set of both bundled detector manifests).
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_consistent_spec() {
        for kind in IncidentKind::ALL {
            let s = kind.spec();
            assert_eq!(s.kind, kind);
            for p in s.params {
                assert!(
                    p.min <= p.default && p.default <= p.max,
                    "{} {}",
                    kind.as_str(),
                    p.name
                );
            }
            for c in s.default_classes {
                assert!(COCO_CLASSES.contains(c), "{c}");
            }
        }
    }
}
