//! Zone-level "any qualifying object" rules: `INTRUSION`, `PEDESTRIAN_ON_ROAD`, `LOITERING`.
//! An object qualifies once its own dwell in the zone (bottom centre inside the polygon) reaches
//! the rule's minimum; the zone has one incident per episode, opened by the first qualifying
//! object and updated as more join. Objects reported in an incident do not qualify again until
//! `cooldown_s` after it closed.
//!
//! Only matched tracks (`misses == 0`) count as evidence; a coasting track keeps its dwell but
//! neither opens nor sustains the incident. Never allocates per frame beyond new tracks' entries.

use std::collections::HashMap;
use std::time::Duration;

use crate::rules::engine::{Common, Ctx};
use crate::rules::event::{Involved, Phase};
use crate::rules::geometry::{self, Point};
use crate::rules::lifecycle::{Hold, Incident, Lifecycle, Step};
use crate::track::Track;

/// One watched object.
#[derive(Debug, Default)]
struct Object {
    inside: Hold,
    /// Last frame the track was reported in.
    seen: Duration,
    /// Listed in the open incident.
    involved: bool,
    /// May not qualify again before this time.
    cooldown_until: Duration,
}

/// State of one presence rule.
#[derive(Debug)]
pub(crate) struct Presence {
    /// The object's own dwell needed to qualify.
    min: Duration,
    objects: HashMap<u64, Object>,
    life: Lifecycle,
}

impl Presence {
    pub fn new(min: Duration) -> Presence {
        Presence {
            min,
            objects: HashMap::new(),
            life: Lifecycle::default(),
        }
    }

    pub fn lifecycle(&mut self) -> &mut Lifecycle {
        &mut self.life
    }

    pub fn on_frame(&mut self, c: &Common, ctx: &mut Ctx, tracks: &[Track], qual: &mut Vec<usize>) {
        let t = ctx.t;
        qual.clear();
        let mut start = t;
        for (i, tr) in tracks.iter().enumerate() {
            if !c.wants(tr) {
                continue;
            }
            let o = self.objects.entry(tr.id).or_default();
            o.seen = t;
            if !tr.is_matched() {
                continue;
            }
            let [x, y] = tr.bottom_centre();
            let inside = geometry::contains(&c.zone, Point::new(f64::from(x), f64::from(y)));
            o.inside.observe(t, inside, c.clear);
            let Some(since) = o.inside.since() else {
                continue;
            };
            let dwell = t.saturating_sub(since);
            if ctx.active
                && o.inside.holding()
                && dwell >= self.min
                && (o.involved || t >= o.cooldown_until)
            {
                qual.push(i);
                start = start.min(since);
            }
        }
        let qualifies = (!qual.is_empty()).then_some(start);
        match self
            .life
            .step(t, qualifies, c.clear, Duration::ZERO, ctx.keys)
        {
            Step::Opened | Step::Held => self.involve(c, ctx, tracks, qual),
            Step::Closed { incident, end } => self.closed(c, ctx, &incident, end),
            Step::Idle | Step::Fading => {}
        }
        // Track ids are never reused: an object gone for longer than the hysteresis is gone.
        let keep = c.clear.max(Duration::from_secs(1));
        self.objects
            .retain(|_, o| o.involved || t.saturating_sub(o.seen) <= keep);
    }

    /// Adds the qualifying objects to the open incident; emits `Opened`, or `Updated` when an
    /// object joined or the count reached a new peak.
    fn involve(&mut self, c: &Common, ctx: &mut Ctx, tracks: &[Track], qual: &[usize]) {
        let t = ctx.t;
        let Some(inc) = self.life.incident() else {
            return;
        };
        let opened = inc.objects.is_empty();
        let mut changed = false;
        let mut dwell = 0.0f64;
        for &i in qual {
            let tr = &tracks[i];
            if let Some(o) = self.objects.get_mut(&tr.id) {
                o.involved = true;
                dwell = dwell.max(o.inside.held(t).as_secs_f64());
            }
            if !inc.involves(tr.id) {
                inc.objects.push(Involved {
                    track_id: tr.id,
                    class: ctx.label(tr.class_id),
                    bbox: tr.bbox,
                });
                changed = true;
            }
        }
        changed |= inc.raise("count", qual.len() as f64);
        inc.raise("dwell_s", dwell);
        if opened {
            ctx.emit(c, inc, Phase::Opened, None);
        } else if changed {
            ctx.emit(c, inc, Phase::Updated, None);
        }
    }

    /// No frame: closes the incident once `clear_s` has passed.
    pub fn on_idle(&mut self, c: &Common, ctx: &mut Ctx) {
        if let Step::Closed { incident, end } =
            self.life
                .step(ctx.t, None, c.clear, Duration::ZERO, ctx.keys)
        {
            self.closed(c, ctx, &incident, end);
        }
    }

    /// The incident closed: its objects start their cooldown.
    fn closed(&mut self, c: &Common, ctx: &mut Ctx, incident: &Incident, end: Duration) {
        for inv in &incident.objects {
            if let Some(o) = self.objects.get_mut(&inv.track_id) {
                o.involved = false;
                o.cooldown_until = ctx.t + c.cooldown;
            }
        }
        ctx.emit(c, incident, Phase::Closed, Some(end));
    }
}
