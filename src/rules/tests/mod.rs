//! Scenario tests of the rule engine on synthetic tracks: actors move in straight lines over stream
//! time, a small simulator turns them into the [`Track`]s the tracker would report, and each test
//! compares the engine's events, written compactly ("O1 U1 C1": opened, updated, closed of the
//! incident with key 1), against a table.

mod lines;
mod vehicle;
mod zone;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use crate::camera::{Analytics, Line, LineDirection, Rule, Zone};
use crate::rules::engine::{Crossing, Engine, FrameInfo};
use crate::rules::event::{Phase, RuleEvent};
use crate::rules::geometry::Point;
use crate::rules::spec::{COCO_CLASSES, IncidentKind};
use crate::track::Track;

/// A rule's parameters in a table row.
pub type Params = &'static [(&'static str, f64)];

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Something that moves through the scene: present from `from` to `to` (seconds, half-open),
/// bottom centre at `p0 + v * (t - from)`, coasting (unmatched) during `coast`.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: u64,
    pub class: &'static str,
    pub from: f64,
    pub to: f64,
    pub p0: [f64; 2],
    /// Velocity in normalised units per second.
    pub v: [f64; 2],
    pub coast: Option<(f64, f64)>,
}

/// A person standing at `p` from `from` to `to`.
pub fn still(id: u64, class: &'static str, p: [f64; 2], from: f64, to: f64) -> Actor {
    Actor {
        id,
        class,
        from,
        to,
        p0: p,
        v: [0.0, 0.0],
        coast: None,
    }
}

pub fn moving(
    id: u64,
    class: &'static str,
    p0: [f64; 2],
    v: [f64; 2],
    from: f64,
    to: f64,
) -> Actor {
    Actor {
        v,
        ..still(id, class, p0, from, to)
    }
}

impl Actor {
    pub fn coasting(self, from: f64, to: f64) -> Actor {
        Actor {
            coast: Some((from, to)),
            ..self
        }
    }
}

/// The zone every zone test uses: the square 0.2..0.8.
pub fn square() -> Zone {
    Zone {
        id: "lawn".into(),
        display_name: String::new(),
        polygon: [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]
            .map(Point::from)
            .to_vec(),
    }
}

/// A rule on zone `lawn` with the given parameters.
pub fn rule(kind: IncidentKind, params: &[(&str, f64)]) -> Rule {
    Rule {
        id: format!("r-{}", kind.as_str().to_lowercase().replace('_', "-")),
        kind,
        zone_id: if kind.spec().needs_zone {
            "lawn".into()
        } else {
            String::new()
        },
        severity: None,
        classes: Vec::new(),
        params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        schedule: String::new(),
    }
}

pub fn line(id: &str, a: [f64; 2], b: [f64; 2], direction: LineDirection) -> Line {
    Line {
        id: id.into(),
        display_name: String::new(),
        a: a.into(),
        b: b.into(),
        direction,
    }
}

pub fn analytics(rules: Vec<Rule>, lines: Vec<Line>) -> Analytics {
    let a = Analytics {
        zones: vec![square()],
        lines,
        rules,
    };
    if let Err(e) = a.validate("camera") {
        panic!("test analytics invalid: {e}");
    }
    a
}

/// What a run produced.
pub struct Run {
    pub events: Vec<RuleEvent>,
    pub crossings: Vec<Crossing>,
    pub engine: Engine,
}

impl Run {
    /// "O1 U1 C1": the events' phases and keys in order.
    pub fn phases(&self) -> String {
        let p = |e: &RuleEvent| match e.phase {
            Phase::Opened => 'O',
            Phase::Updated => 'U',
            Phase::Closed => 'C',
        };
        let v: Vec<String> = self
            .events
            .iter()
            .map(|e| format!("{}{}", p(e), e.key))
            .collect();
        v.join(" ")
    }
}

#[derive(Clone, Copy)]
pub struct Sim {
    pub fps: f64,
    pub until: f64,
    pub aspect: f64,
    pub wall: SystemTime,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            fps: 10.0,
            until: 20.0,
            aspect: 1.0,
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }
}

pub fn labels() -> Vec<String> {
    COCO_CLASSES.iter().map(|s| s.to_string()).collect()
}

fn class_id(name: &str) -> u16 {
    match COCO_CLASSES.iter().position(|c| *c == name) {
        Some(i) => i as u16,
        None => panic!("no class {name}"),
    }
}

impl Sim {
    /// Plays `actors` through a fresh engine frame by frame from 0 to `until`.
    pub fn run(&self, a: &Analytics, actors: &[Actor]) -> Run {
        let mut engine = Engine::new("cam", a, &labels());
        let (mut events, mut crossings) = (Vec::new(), Vec::new());
        let mut trajectories: HashMap<u64, VecDeque<(Duration, [f32; 2])>> = HashMap::new();
        let mut tracks = Vec::new();
        let frames = (self.until * self.fps).round() as u64;
        for k in 0..frames {
            let ts = k as f64 / self.fps;
            let t = secs(ts);
            tracks.clear();
            for a in actors.iter().filter(|a| (a.from..a.to).contains(&ts)) {
                let dt = ts - a.from;
                let (x, y) = (a.p0[0] + a.v[0] * dt, a.p0[1] + a.v[1] * dt);
                let misses = match a.coast {
                    Some((c0, c1)) if (c0..c1).contains(&ts) => 1,
                    _ => 0,
                };
                let traj = trajectories.entry(a.id).or_default();
                if misses == 0 {
                    traj.push_back((t, [x as f32, y as f32]));
                    if traj.len() > 50 {
                        traj.pop_front();
                    }
                }
                tracks.push(Track {
                    id: a.id,
                    class_id: class_id(a.class),
                    score: 0.9,
                    bbox: [x - 0.02, y - 0.08, x + 0.02, y].map(|v| v as f32),
                    velocity: [a.v[0] as f32, a.v[1] as f32],
                    first_seen: secs(a.from),
                    last_seen: t,
                    hits: 10,
                    misses,
                    trajectory: traj.clone(),
                });
            }
            let f = FrameInfo {
                t,
                wall: self.wall + t,
                aspect: self.aspect,
            };
            engine.on_frame(f, &tracks, &mut events, &mut crossings);
        }
        Run {
            events,
            crossings,
            engine,
        }
    }
}

/// Counts by (line, class, direction) as plain strings, for comparing with tables.
pub fn counts(engine: &Engine) -> BTreeMap<String, u64> {
    engine
        .counts()
        .iter()
        .map(|(k, n)| {
            (
                format!("{} {} {}", k.line_id, k.class, k.direction.as_str()),
                *n,
            )
        })
        .collect()
}

#[test]
fn condition_lifecycle_table() {
    use crate::rules::lifecycle::{Condition, Step, Timing};
    // One sample per second; min 2 s, clear 2 s, cooldown 5 s.
    let timing = Timing {
        min: secs(2.0),
        clear: secs(2.0),
        cooldown: secs(5.0),
    };
    let cases: &[(&str, &str, &str)] = &[
        // holds per second -> steps (. idle, o opened, h held, f fading, c closed)
        ("too short", "110000", "......"),
        ("opens after min", "1110000", "..offc."),
        ("short gap bridges min", "1011000", "..ohffc"),
        ("gap during open", "1110110000", "..ofhhffc."),
        ("cooldown", "111000111111", "..offc....oh"),
        ("one long event", "1111111111", "..ohhhhhhh"),
    ];
    for (name, holds, want) in cases {
        let mut c = Condition::default();
        let mut keys = 0;
        let got: String = holds
            .chars()
            .enumerate()
            .map(
                |(i, h)| match c.step(secs(i as f64), h == '1', timing, &mut keys) {
                    Step::Idle => '.',
                    Step::Opened => 'o',
                    Step::Held => 'h',
                    Step::Fading => 'f',
                    Step::Closed { .. } => 'c',
                },
            )
            .collect();
        assert_eq!(&got, want, "{name}");
    }
}
