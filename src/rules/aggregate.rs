//! Zone-aggregate rules, one incident per zone episode: `CROWD` (persons in the zone at least
//! `min_persons`) and `CONGESTION` (vehicles at least `min_vehicles`, their mean speed at most
//! `max_mean_speed` frame heights per second), each for `min_duration_s`. The zone's cooldown
//! follows a close. Counts use matched tracks only; the [`Condition`]'s hysteresis covers a
//! detector missing someone for a frame or two.

use crate::rules::engine::{Common, Ctx};
use crate::rules::event::{Involved, Phase};
use crate::rules::geometry::{self, Point};
use crate::rules::lifecycle::{Condition, Lifecycle, Step, Timing};
use crate::rules::spec::IncidentKind;
use crate::track::Track;

/// Most objects an aggregate incident lists (a jam lasting an hour sees thousands of vehicles).
pub const MAX_OBJECTS: usize = 100;

#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    cond: Condition,
}

impl Aggregate {
    pub fn lifecycle(&mut self) -> &mut Lifecycle {
        &mut self.cond.life
    }

    pub fn on_frame(
        &mut self,
        c: &Common,
        ctx: &mut Ctx,
        tracks: &[Track],
        inside: &mut Vec<usize>,
    ) {
        inside.clear();
        let mut speed_sum = 0.0;
        for (i, tr) in tracks.iter().enumerate() {
            if !tr.is_matched() || !c.wants(tr) {
                continue;
            }
            let [x, y] = tr.bottom_centre();
            if geometry::contains(&c.zone, Point::new(f64::from(x), f64::from(y))) {
                inside.push(i);
                let [vx, vy] = tr.velocity;
                speed_sum += (f64::from(vx) * ctx.aspect).hypot(f64::from(vy));
            }
        }
        let n = inside.len();
        let mean_speed = if n == 0 { 0.0 } else { speed_sum / n as f64 };
        let holds = ctx.active
            && match c.kind {
                IncidentKind::Crowd => n as f64 >= c.param("min_persons"),
                _ => n as f64 >= c.param("min_vehicles") && mean_speed <= c.param("max_mean_speed"),
            };
        let timing = Timing {
            min: c.secs("min_duration_s"),
            clear: c.clear,
            cooldown: c.cooldown,
        };
        match self.cond.step(ctx.t, holds, timing, ctx.keys) {
            Step::Opened | Step::Held => {
                let Some(inc) = self.cond.life.incident() else {
                    return;
                };
                let opened = inc.objects.is_empty();
                for &i in inside.iter() {
                    let tr = &tracks[i];
                    if inc.objects.len() < MAX_OBJECTS && !inc.involves(tr.id) {
                        inc.objects.push(Involved {
                            track_id: tr.id,
                            class: ctx.label(tr.class_id),
                            bbox: tr.bbox,
                        });
                    }
                }
                let peak = inc.raise("count", n as f64);
                if c.kind == IncidentKind::Congestion {
                    // The slowest mean speed seen is the congestion's worst moment.
                    match inc.peak.get_mut("mean_speed") {
                        Some(s) => *s = s.min(mean_speed),
                        None => {
                            inc.peak.insert("mean_speed".to_owned(), mean_speed);
                        }
                    }
                }
                if opened {
                    ctx.emit(c, inc, Phase::Opened, None);
                } else if peak {
                    ctx.emit(c, inc, Phase::Updated, None);
                }
            }
            Step::Closed { incident, end } => ctx.emit(c, &incident, Phase::Closed, Some(end)),
            Step::Idle | Step::Fading => {}
        }
    }

    /// No frame: closes the incident once `clear_s` has passed.
    pub fn on_idle(&mut self, c: &Common, ctx: &mut Ctx) {
        if let Step::Closed { incident, end } = self
            .cond
            .life
            .step(ctx.t, None, c.clear, c.cooldown, ctx.keys)
        {
            ctx.emit(c, &incident, Phase::Closed, Some(end));
        }
    }
}
