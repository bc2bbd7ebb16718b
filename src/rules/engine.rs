//! The rule engine of one camera: takes each analysed frame's confirmed tracks (and the passing of
//! time without frames) and turns them into incident events and line-crossing counts.
//!
//! Each rule of the camera's [`Analytics`] is compiled once in [`Engine::new`] (parameters with
//! their defaults, classes mapped to label indices, schedule parsed) into the state of its kind:
//! zone-level presence (`presence`), per-vehicle (`vehicle`), zone aggregates (`aggregate`) or
//! camera-wide (`CAMERA_OFFLINE`, here). All share [`Lifecycle`]. Line crossings are in `lines`.
//!
//! The engine is pure: its clock is the stream time passed in, the wall-clock time only labels
//! events and picks the schedule's time of day. It never does I/O and never allocates per frame
//! beyond the events it emits.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::Timelike;

use crate::camera::{Analytics, Rule, parse_schedule};
use crate::frame::Thumbnail;
use crate::rules::aggregate::Aggregate;
use crate::rules::event::{Phase, RuleEvent};
use crate::rules::geometry::Point;
use crate::rules::lifecycle::{Condition, Incident, Lifecycle, Step, Timing};
use crate::rules::lines::LineCounter;
pub use crate::rules::lines::{CountKey, CrossDirection, Crossing};
use crate::rules::presence::Presence;
use crate::rules::spec::{IncidentKind, Severity};
use crate::rules::tamper::{TamperDetector, TamperReason};
use crate::rules::vehicle::Vehicles;
use crate::track::Track;

/// One analysed frame as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct FrameInfo {
    /// Stream time of the frame.
    pub t: Duration,
    /// Wall-clock time the frame arrived.
    pub wall: SystemTime,
    /// Frame width / height: turns normalised x into frame heights.
    pub aspect: f64,
}

/// The rule engine of one camera.
pub struct Engine {
    camera_id: String,
    labels: Vec<String>,
    rules: Vec<Compiled>,
    lines: LineCounter,
    /// Last incident key handed out; keys are never reused within the engine's life.
    keys: u64,
    last_frame: Option<Duration>,
    scratch: Vec<usize>,
}

/// What every event of one rule carries, and the rule's common settings.
pub(crate) struct Common {
    pub rule_id: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    pub zone_id: String,
    pub zone: Vec<Point>,
    /// Indexed by class id: whether the rule watches that class.
    pub classes: Vec<bool>,
    /// Daily window in minutes since local midnight; `None` = always.
    pub window: Option<(u32, u32)>,
    pub clear: Duration,
    pub cooldown: Duration,
    params: BTreeMap<String, f64>,
}

impl Common {
    /// Parameter `name`: the rule's value, else the kind's default.
    pub fn param(&self, name: &str) -> f64 {
        param(self.kind, &self.params, name)
    }

    pub fn secs(&self, name: &str) -> Duration {
        secs(self.param(name))
    }

    /// Whether the rule watches `track`'s class.
    pub fn wants(&self, track: &Track) -> bool {
        self.classes
            .get(usize::from(track.class_id))
            .copied()
            .unwrap_or(false)
    }
}

/// What a rule step needs besides its own state.
pub(crate) struct Ctx<'a> {
    pub camera_id: &'a str,
    pub labels: &'a [String],
    pub t: Duration,
    pub wall: SystemTime,
    pub aspect: f64,
    /// Whether the rule's schedule allows it to fire now.
    pub active: bool,
    pub keys: &'a mut u64,
    pub events: &'a mut Vec<RuleEvent>,
}

impl<'a> Ctx<'a> {
    fn new(
        camera_id: &'a str,
        labels: &'a [String],
        t: Duration,
        wall: SystemTime,
        keys: &'a mut u64,
        events: &'a mut Vec<RuleEvent>,
    ) -> Ctx<'a> {
        Ctx {
            camera_id,
            labels,
            t,
            wall,
            aspect: 1.0,
            active: true,
            keys,
            events,
        }
    }

    pub fn label(&self, class_id: u16) -> String {
        label(self.labels, class_id)
    }

    /// Emits one event of `incident`.
    pub fn emit(&mut self, c: &Common, incident: &Incident, phase: Phase, end: Option<Duration>) {
        let summary = summary(c, incident, end.unwrap_or(self.t));
        self.events.push(RuleEvent {
            camera_id: self.camera_id.to_owned(),
            rule_id: c.rule_id.clone(),
            kind: c.kind,
            severity: c.severity,
            zone_id: c.zone_id.clone(),
            key: incident.key,
            phase,
            start: incident.start,
            end,
            at: self.t,
            wall: self.wall,
            objects: incident.objects.clone(),
            peak: incident.peak.clone(),
            summary,
        });
    }
}

enum State {
    Presence(Presence),
    Vehicles(Vehicles),
    Aggregate(Aggregate),
    Offline(Lifecycle),
    Tamper(Box<Tamper>),
}

/// `CAMERA_TAMPERING`: the image-statistics detector and the condition's life.
struct Tamper {
    detector: TamperDetector,
    cond: Condition,
    /// The reason of the latest tampered frame.
    reason: Option<TamperReason>,
}

/// How long a tampered view must look normal again before its incident closes (the detector's
/// verdicts are already a median over one second; this bridges a second or two of doubt).
const TAMPER_CLEAR: Duration = Duration::from_secs(2);

struct Compiled {
    common: Common,
    state: State,
}

impl Engine {
    /// `analytics` is already validated (`camera::Analytics::validate`); `labels` = the model's
    /// class names, index = class id. Rule classes the model does not know never match.
    /// `CAMERA_TAMPERING` rules are driven by [`Engine::on_view`] (image statistics, not tracks).
    pub fn new(camera_id: &str, analytics: &Analytics, labels: &[String]) -> Engine {
        let rules = analytics
            .rules
            .iter()
            .filter_map(|r| compile(camera_id, r, analytics, labels))
            .collect();
        Engine {
            camera_id: camera_id.to_owned(),
            labels: labels.to_vec(),
            rules,
            lines: LineCounter::new(&analytics.lines),
            keys: 0,
            last_frame: None,
            scratch: Vec::new(),
        }
    }

    /// One analysed frame: its stream time, wall-clock arrival and aspect, and the tracker's
    /// confirmed tracks. Pushes incident events to `events` and line crossings to `crossings`.
    pub fn on_frame(
        &mut self,
        f: FrameInfo,
        tracks: &[Track],
        events: &mut Vec<RuleEvent>,
        crossings: &mut Vec<Crossing>,
    ) {
        self.last_frame = Some(f.t);
        let minute = self
            .rules
            .iter()
            .any(|r| r.common.window.is_some())
            .then(|| local_minute(f.wall));
        let mut scratch = std::mem::take(&mut self.scratch);
        self.each_rule(f.t, f.wall, events, |c, state, ctx| {
            ctx.aspect = f.aspect;
            ctx.active = in_window(c.window, minute);
            match state {
                State::Presence(s) => s.on_frame(c, ctx, tracks, &mut scratch),
                State::Vehicles(s) => s.on_frame(c, ctx, tracks),
                State::Aggregate(s) => s.on_frame(c, ctx, tracks, &mut scratch),
                State::Offline(life) => offline(c, ctx, life, None),
                State::Tamper(_) => {}
            }
        });
        self.scratch = scratch;
        self.lines.on_frame(f, tracks, &self.labels, crossings);
    }

    /// Time passes without a frame (called about once a second, `t` = last frame's stream time
    /// plus the time since it arrived). Opens `CAMERA_OFFLINE` after its timeout and closes
    /// incidents whose `clear_s` has passed.
    pub fn on_idle(&mut self, t: Duration, wall: SystemTime, events: &mut Vec<RuleEvent>) {
        let last = self.last_frame.unwrap_or(Duration::ZERO);
        self.each_rule(t, wall, events, |c, state, ctx| match state {
            State::Presence(s) => s.on_idle(c, ctx),
            State::Vehicles(s) => s.on_idle(c, ctx),
            State::Aggregate(s) => s.on_idle(c, ctx),
            State::Offline(life) => {
                if t.saturating_sub(last) >= c.secs("timeout_s") {
                    offline(c, ctx, life, Some(last));
                }
            }
            State::Tamper(_) => {}
        });
    }

    /// The view of one analysed frame (call it with each frame's thumbnail, before or after
    /// [`Engine::on_frame`] at the same `t`): drives `CAMERA_TAMPERING`.
    pub fn on_view(
        &mut self,
        t: Duration,
        wall: SystemTime,
        thumb: &Thumbnail,
        events: &mut Vec<RuleEvent>,
    ) {
        self.each_rule(t, wall, events, |c, state, ctx| {
            if let State::Tamper(s) = state {
                tamper(c, ctx, s, thumb);
            }
        });
    }

    /// The camera or engine stops: closes every open incident (end = `t`, or when its condition
    /// stopped qualifying if that was earlier).
    pub fn close_all(&mut self, t: Duration, wall: SystemTime, events: &mut Vec<RuleEvent>) {
        self.each_rule(t, wall, events, |c, state, ctx| {
            let mut close = |life: &mut Lifecycle| {
                if let Some((inc, end)) = life.close_now(t) {
                    ctx.emit(c, &inc, Phase::Closed, Some(end));
                }
            };
            match state {
                State::Presence(s) => close(s.lifecycle()),
                State::Vehicles(s) => s.lifecycles().for_each(close),
                State::Aggregate(s) => close(s.lifecycle()),
                State::Offline(life) => close(life),
                State::Tamper(s) => close(&mut s.cond.life),
            }
        });
    }

    /// Runs `f` on every rule with a fresh context at (`t`, `wall`).
    fn each_rule(
        &mut self,
        t: Duration,
        wall: SystemTime,
        events: &mut Vec<RuleEvent>,
        mut f: impl FnMut(&Common, &mut State, &mut Ctx),
    ) {
        for rule in &mut self.rules {
            let mut ctx = Ctx::new(
                &self.camera_id,
                &self.labels,
                t,
                wall,
                &mut self.keys,
                events,
            );
            f(&rule.common, &mut rule.state, &mut ctx);
        }
    }

    /// Line-crossing totals so far, by line, class and direction.
    pub fn counts(&self) -> &BTreeMap<CountKey, u64> {
        self.lines.counts()
    }
}

fn compile(camera_id: &str, r: &Rule, a: &Analytics, labels: &[String]) -> Option<Compiled> {
    let spec = r.kind.spec();
    let names: Vec<&str> = if r.classes.is_empty() {
        spec.default_classes.to_vec()
    } else {
        r.classes.iter().map(String::as_str).collect()
    };
    for n in &names {
        if !labels.iter().any(|l| l == n) {
            tracing::warn!(camera = %camera_id, rule = %r.id, class = %n, "the model has no such class; the rule ignores it");
        }
    }
    let common = Common {
        rule_id: r.id.clone(),
        kind: r.kind,
        severity: r.severity.unwrap_or(spec.default_severity),
        zone_id: r.zone_id.clone(),
        zone: a
            .zones
            .iter()
            .find(|z| z.id == r.zone_id)
            .map(|z| z.polygon.clone())
            .unwrap_or_default(),
        classes: labels.iter().map(|l| names.contains(&l.as_str())).collect(),
        window: parse_schedule(&r.schedule),
        // Camera-wide kinds take neither: both are zero for them.
        clear: secs(param(r.kind, &r.params, "clear_s")),
        cooldown: secs(param(r.kind, &r.params, "cooldown_s")),
        params: r.params.clone(),
    };
    let state = match r.kind {
        IncidentKind::Intrusion | IncidentKind::PedestrianOnRoad => {
            State::Presence(Presence::new(common.secs("min_duration_s")))
        }
        IncidentKind::Loitering => State::Presence(Presence::new(common.secs("dwell_s"))),
        IncidentKind::WrongWay | IncidentKind::StoppedVehicle => {
            State::Vehicles(Vehicles::default())
        }
        IncidentKind::Crowd | IncidentKind::Congestion => State::Aggregate(Aggregate::default()),
        IncidentKind::CameraOffline => State::Offline(Lifecycle::default()),
        IncidentKind::CameraTampering => State::Tamper(Box::new(Tamper {
            detector: TamperDetector::new(common.param("sensitivity")),
            cond: Condition::default(),
            reason: None,
        })),
    };
    Some(Compiled { common, state })
}

/// Parameter `name` of a rule: its own value, else the kind's default, else 0 (a parameter the
/// kind does not take).
fn param(kind: IncidentKind, params: &BTreeMap<String, f64>, name: &str) -> f64 {
    params
        .get(name)
        .copied()
        .or_else(|| kind.spec().param(name).map(|p| p.default))
        .unwrap_or(0.0)
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

/// CAMERA_OFFLINE: `stale` is `Some(last frame time)` when no frame came for the timeout, `None`
/// when a frame just arrived (which closes the incident at once).
fn offline(c: &Common, ctx: &mut Ctx, life: &mut Lifecycle, stale: Option<Duration>) {
    match life.step(ctx.t, stale, Duration::ZERO, Duration::ZERO, ctx.keys) {
        Step::Opened => {
            if let Some(inc) = life.incident() {
                ctx.emit(c, inc, Phase::Opened, None);
            }
        }
        Step::Closed { incident, end } => ctx.emit(c, &incident, Phase::Closed, Some(end)),
        Step::Idle | Step::Held | Step::Fading => {}
    }
}

/// CAMERA_TAMPERING: one frame's verdict through the condition's minimum duration and clearing.
fn tamper(c: &Common, ctx: &mut Ctx, s: &mut Tamper, thumb: &Thumbnail) {
    let verdict = s.detector.observe(ctx.t, thumb);
    if verdict.is_some() {
        s.reason = verdict;
    }
    let timing = Timing {
        min: c.secs("min_duration_s"),
        clear: TAMPER_CLEAR,
        cooldown: Duration::ZERO,
    };
    let step = s.cond.step(ctx.t, verdict.is_some(), timing, ctx.keys);
    let reason = s.reason.map_or("changed", TamperReason::as_str);
    let emitted = match step {
        Step::Opened => {
            let scores = s.detector.last_scores();
            if let Some(inc) = s.cond.life.incident() {
                for (name, v) in scores {
                    inc.peak.insert((*name).to_owned(), *v);
                }
                ctx.emit(c, inc, Phase::Opened, None);
                true
            } else {
                false
            }
        }
        Step::Closed { incident, end } => {
            ctx.emit(c, &incident, Phase::Closed, Some(end));
            true
        }
        Step::Idle | Step::Held | Step::Fading => false,
    };
    if emitted && let Some(ev) = ctx.events.last_mut() {
        ev.summary = ev
            .summary
            .replacen("view changed", &format!("view {reason}"), 1);
    }
}

/// The event's sentence, from the incident's objects and peaks; `until` = the event's time.
fn summary(c: &Common, inc: &Incident, until: Duration) -> String {
    let secs = until.saturating_sub(inc.start).as_secs_f64();
    let peak = |name: &str| inc.peak.get(name).copied().unwrap_or(0.0);
    let zone = &c.zone_id;
    let first = inc.objects.first();
    let who = first.map_or_else(String::new, |o| format!("{} {}", o.class, o.track_id));
    match c.kind {
        IncidentKind::WrongWay => format!(
            "{who} against the lane in zone {zone}: {:.2} frame heights in {secs:.1} s",
            peak("distance")
        ),
        IncidentKind::StoppedVehicle => format!("{who} stopped in zone {zone} for {secs:.1} s"),
        IncidentKind::Congestion => format!(
            "{} vehicles in zone {zone} at {:.3} frame heights/s for {secs:.1} s",
            peak("count"),
            peak("mean_speed")
        ),
        IncidentKind::CameraOffline => format!("no frame for {secs:.1} s"),
        IncidentKind::CameraTampering => format!("view changed for {secs:.1} s"),
        IncidentKind::Crowd
        | IncidentKind::Intrusion
        | IncidentKind::PedestrianOnRoad
        | IncidentKind::Loitering => {
            let n = if c.kind == IncidentKind::Crowd {
                peak("count") as usize
            } else {
                inc.objects.len()
            };
            format!("{n} {} in zone {zone} for {secs:.1} s", noun(inc, n))
        }
    }
}

/// "person", "persons", "cars", or "objects" when classes are mixed.
fn noun(inc: &Incident, n: usize) -> String {
    let class = inc.objects.first().map_or("object", |o| o.class.as_str());
    let class = if inc.objects.iter().all(|o| o.class == class) {
        class
    } else {
        "object"
    };
    match (n, class.ends_with('s')) {
        (1, _) => class.to_owned(),
        (_, true) => format!("{class}es"),
        (_, false) => format!("{class}s"),
    }
}

/// The model's name for `class_id` ("class 93" if the model has no such class).
pub(crate) fn label(labels: &[String], class_id: u16) -> String {
    labels
        .get(usize::from(class_id))
        .cloned()
        .unwrap_or_else(|| format!("class {class_id}"))
}

/// Minutes since local midnight at `wall`.
pub(crate) fn local_minute(wall: SystemTime) -> u32 {
    let local: chrono::DateTime<chrono::Local> = wall.into();
    local.hour() * 60 + local.minute()
}

/// Whether minute-of-day `minute` falls in the daily window `[start, end)`, which may cross
/// midnight (`22:00-06:00`). No window: always.
pub(crate) fn in_window(window: Option<(u32, u32)>, minute: Option<u32>) -> bool {
    match (window, minute) {
        (None, _) => true,
        (Some((start, end)), Some(m)) if start < end => (start..end).contains(&m),
        (Some((start, end)), Some(m)) => m >= start || m < end,
        (Some(_), None) => false,
    }
}
