//! Per-object rules, one incident per vehicle: `WRONG_WAY` and `STOPPED_VEHICLE`.
//!
//! Distances are in frame heights (normalised x times the frame's aspect) so that a lane drawn
//! across a wide frame measures like one drawn along it. Motion is judged from the track's
//! smoothed trajectory and net displacement, never from a single frame's Kalman velocity.
//! Each vehicle has its own [`Lifecycle`], so its cooldown keeps that vehicle from raising the
//! rule again; other vehicles are unaffected.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::rules::engine::{Common, Ctx};
use crate::rules::event::{Involved, Phase};
use crate::rules::geometry::{self, Point};
use crate::rules::lifecycle::{Hold, Lifecycle, Step};
use crate::rules::spec::IncidentKind;
use crate::track::Track;

/// Window over which a wrong-way track's recent motion is measured.
const MOTION_WINDOW: Duration = Duration::from_secs(1);
/// Recent displacement (frame heights) below which the motion's direction is not judged.
const MOTION_FLOOR: f64 = 0.01;

#[derive(Debug, Default)]
struct Vehicle {
    life: Lifecycle,
    inside: Hold,
    /// Start of the current run (against the lane, or still): time and position.
    run: Option<(Duration, [f64; 2])>,
    seen: Duration,
}

/// State of one per-vehicle rule.
#[derive(Debug, Default)]
pub(crate) struct Vehicles {
    /// By track id, so that events of one frame come out in a stable order.
    objects: BTreeMap<u64, Vehicle>,
}

fn scaled(p: [f32; 2], aspect: f64) -> [f64; 2] {
    [f64::from(p[0]) * aspect, f64::from(p[1])]
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

impl Vehicles {
    pub fn lifecycles(&mut self) -> impl Iterator<Item = &mut Lifecycle> {
        self.objects.values_mut().map(|v| &mut v.life)
    }

    pub fn on_frame(&mut self, c: &Common, ctx: &mut Ctx, tracks: &[Track]) {
        let t = ctx.t;
        for tr in tracks {
            if !c.wants(tr) {
                continue;
            }
            let v = self.objects.entry(tr.id).or_default();
            v.seen = t;
            let (name, f): (_, Judge) = match c.kind {
                IncidentKind::WrongWay => ("distance", wrong_way),
                _ => ("dwell_s", stopped),
            };
            let judged = if tr.is_matched() {
                let [x, y] = tr.bottom_centre();
                let inside = geometry::contains(&c.zone, Point::new(f64::from(x), f64::from(y)));
                v.inside.observe(t, inside, c.clear);
                if v.inside.since().is_none() {
                    v.run = None;
                }
                f(c, ctx, v, tr)
            } else {
                None
            };
            let judged = judged.filter(|_| ctx.active);
            let step = v
                .life
                .step(t, judged.map(|j| j.0), c.clear, c.cooldown, ctx.keys);
            let peak = judged.map_or(0.0, |j| j.1);
            emit(c, ctx, &mut v.life, step, tr, (name, peak));
        }
        let keep = c.clear.max(Duration::from_secs(1));
        self.objects.retain(|_, v| {
            if v.seen == t {
                return true;
            }
            // Not reported this frame: no evidence. Its incident runs out its hysteresis; once
            // that is over and the track has been gone a while, forget it (ids are never reused).
            let step = v.life.step(t, None, c.clear, c.cooldown, ctx.keys);
            if let Step::Closed { incident, end } = step {
                ctx.emit(c, &incident, Phase::Closed, Some(end));
            }
            v.life.is_open() || t.saturating_sub(v.seen) <= keep
        });
    }

    /// No frame: closes incidents whose `clear_s` has passed.
    pub fn on_idle(&mut self, c: &Common, ctx: &mut Ctx) {
        for v in self.objects.values_mut() {
            if let Step::Closed { incident, end } =
                v.life.step(ctx.t, None, c.clear, c.cooldown, ctx.keys)
            {
                ctx.emit(c, &incident, Phase::Closed, Some(end));
            }
        }
    }
}

/// Emits the vehicle's incident events; `peak` is the rule's measure this frame.
fn emit(
    c: &Common,
    ctx: &mut Ctx,
    life: &mut Lifecycle,
    step: Step,
    tr: &Track,
    peak: (&str, f64),
) {
    if let Some(inc) = life.incident() {
        inc.raise(peak.0, peak.1);
    }
    match step {
        Step::Opened => {
            if let Some(inc) = life.incident() {
                inc.objects.push(Involved {
                    track_id: tr.id,
                    class: ctx.label(tr.class_id),
                    bbox: tr.bbox,
                });
                ctx.emit(c, inc, Phase::Opened, None);
            }
        }
        Step::Closed { incident, end } => ctx.emit(c, &incident, Phase::Closed, Some(end)),
        Step::Idle | Step::Held | Step::Fading => {}
    }
}

/// Judges one matched frame of one vehicle: `Some((start, measure))` when it qualifies.
type Judge = fn(&Common, &Ctx, &mut Vehicle, &Track) -> Option<(Duration, f64)>;

/// `WRONG_WAY`: the vehicle's recent motion points against the lane (within `max_angle_deg` of
/// the reversed lane direction); since the run began it has moved for `min_duration_s` and
/// covered `min_distance` frame heights against the lane, net.
fn wrong_way(c: &Common, ctx: &Ctx, v: &mut Vehicle, tr: &Track) -> Option<(Duration, f64)> {
    v.inside.since()?;
    let aspect = ctx.aspect;
    let against = [-c.param("dx") * aspect, -c.param("dy")];
    let norm = against[0].hypot(against[1]);
    if norm == 0.0 {
        return None;
    }
    let against = [against[0] / norm, against[1] / norm];
    let max_angle = c.param("max_angle_deg");
    let (&(t_now, now), rest) = (tr.trajectory.back()?, &tr.trajectory);
    let now = scaled(now, aspect);
    let horizon = t_now.saturating_sub(MOTION_WINDOW);
    let &(t_then, then) = rest
        .iter()
        .rev()
        .find(|(ts, _)| *ts <= horizon)
        .or_else(|| rest.front())?;
    let then = scaled(then, aspect);
    let recent = sub(now, then);
    if recent[0].hypot(recent[1]) >= MOTION_FLOOR {
        match geometry::angle_deg(recent, against) {
            Some(a) if a <= max_angle => {
                v.run.get_or_insert((t_then, then));
            }
            _ => v.run = None,
        }
    }
    let (since, from) = v.run?;
    let net = sub(now, from);
    let along = net[0] * against[0] + net[1] * against[1];
    let angle = geometry::angle_deg(net, against)?;
    let ok = ctx.t.saturating_sub(since) >= c.secs("min_duration_s")
        && along >= c.param("min_distance")
        && angle <= max_angle;
    ok.then_some((since, along))
}

/// `STOPPED_VEHICLE`: inside the zone and within `motion_tolerance * dwell_s` frame heights of
/// where it stopped, for `dwell_s`.
fn stopped(c: &Common, ctx: &Ctx, v: &mut Vehicle, tr: &Track) -> Option<(Duration, f64)> {
    let inside_since = v.inside.since()?;
    let dwell = c.secs("dwell_s");
    let radius = c.param("motion_tolerance") * dwell.as_secs_f64();
    let now = scaled(tr.bottom_centre(), ctx.aspect);
    let (since, anchor) = *v.run.get_or_insert((ctx.t, now));
    let moved = sub(now, anchor);
    if moved[0].hypot(moved[1]) > radius {
        v.run = Some((ctx.t, now));
        return None;
    }
    let since = since.max(inside_since);
    let still = ctx.t.saturating_sub(since);
    if still < dwell {
        return None;
    }
    Some((since, still.as_secs_f64()))
}
