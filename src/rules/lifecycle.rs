//! The life of one incident, shared by every rule: a condition that must hold for a minimum
//! duration ([`Hold`]), an incident that opens when it has, stays open through gaps shorter than
//! `clear_s`, closes after that, and then may not reopen for `cooldown_s` ([`Lifecycle`]).
//! [`Condition`] joins the two for a plain boolean condition (a zone's count, a camera-wide
//! detector such as tampering).
//!
//! Time is the stream time passed in; nothing here reads a clock, allocates per step or knows
//! about tracks, zones or events.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::rules::event::Involved;

/// How long a condition has held, tolerating gaps shorter than a given length (detector misses,
/// a box flickering across a zone edge).
#[derive(Clone, Debug, Default)]
pub struct Hold {
    since: Option<Duration>,
    off: Option<Duration>,
}

impl Hold {
    /// Records whether the condition holds at `t`. A gap of at least `gap` ends the run.
    pub fn observe(&mut self, t: Duration, holds: bool, gap: Duration) {
        if holds {
            self.since.get_or_insert(t);
            self.off = None;
        } else if self.since.is_some() {
            let off = *self.off.get_or_insert(t);
            if t.saturating_sub(off) >= gap {
                self.since = None;
                self.off = None;
            }
        }
    }

    /// Start of the current run, if there is one (possibly inside a tolerated gap).
    pub fn since(&self) -> Option<Duration> {
        self.since
    }

    /// True when the latest observation held.
    pub fn holding(&self) -> bool {
        self.since.is_some() && self.off.is_none()
    }

    /// How long the current run has lasted at `t` (zero without one).
    pub fn held(&self, t: Duration) -> Duration {
        self.since.map_or(Duration::ZERO, |s| t.saturating_sub(s))
    }
}

/// An open incident: what its events carry.
#[derive(Clone, Debug)]
pub struct Incident {
    pub key: u64,
    /// When the condition started to hold.
    pub start: Duration,
    pub objects: Vec<Involved>,
    pub peak: BTreeMap<String, f64>,
}

impl Incident {
    /// Raises peak `name` to `value`; true when that is a new peak.
    pub fn raise(&mut self, name: &str, value: f64) -> bool {
        match self.peak.get_mut(name) {
            Some(v) if *v >= value => false,
            Some(v) => {
                *v = value;
                true
            }
            None => {
                self.peak.insert(name.to_owned(), value);
                true
            }
        }
    }

    /// True when the incident already lists track `id`.
    pub fn involves(&self, id: u64) -> bool {
        self.objects.iter().any(|o| o.track_id == id)
    }
}

/// What one [`Lifecycle::step`] did.
#[derive(Debug)]
pub enum Step {
    /// No incident open, none opened.
    Idle,
    /// An incident opened (it is [`Lifecycle::incident`]); the caller fills its objects and peaks.
    Opened,
    /// The incident is open and the condition still qualifies.
    Held,
    /// The incident is open but the condition no longer qualifies (not yet for `clear_s`).
    Fading,
    /// The incident closed; `end` is when the condition stopped qualifying.
    Closed { incident: Incident, end: Duration },
}

/// Open, hold, clear and cool down one incident at a time.
#[derive(Debug, Default)]
pub struct Lifecycle {
    open: Option<Incident>,
    off: Option<Duration>,
    cooldown_until: Duration,
}

impl Lifecycle {
    /// One step at `t`. `qualifies` is `Some(start)` when the rule's condition, minimum duration
    /// included, holds now and began holding at `start`. `keys` numbers new incidents.
    pub fn step(
        &mut self,
        t: Duration,
        qualifies: Option<Duration>,
        clear: Duration,
        cooldown: Duration,
        keys: &mut u64,
    ) -> Step {
        match (self.open.is_some(), qualifies) {
            (true, Some(_)) => {
                self.off = None;
                Step::Held
            }
            (true, None) => {
                let off = *self.off.get_or_insert(t);
                if t.saturating_sub(off) < clear {
                    return Step::Fading;
                }
                self.cooldown_until = t + cooldown;
                match self.close_now(t) {
                    Some((incident, end)) => Step::Closed { incident, end },
                    None => Step::Idle,
                }
            }
            (false, Some(start)) if t >= self.cooldown_until => {
                *keys += 1;
                self.open = Some(Incident {
                    key: *keys,
                    start,
                    objects: Vec::new(),
                    peak: BTreeMap::new(),
                });
                self.off = None;
                Step::Opened
            }
            (false, _) => Step::Idle,
        }
    }

    /// The open incident, if any.
    pub fn incident(&mut self) -> Option<&mut Incident> {
        self.open.as_mut()
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Closes the open incident now (rule or camera going away): ends when the condition stopped
    /// qualifying, or at `t` if it still does. No cooldown follows, the engine is going away.
    pub fn close_now(&mut self, t: Duration) -> Option<(Incident, Duration)> {
        let incident = self.open.take()?;
        let end = self.off.take().unwrap_or(t).max(incident.start);
        Some((incident, end))
    }
}

/// A boolean condition with a minimum duration, hysteresis and cooldown: [`Hold`] then
/// [`Lifecycle`]. Gaps shorter than `clear` neither reset the minimum duration nor close.
#[derive(Debug, Default)]
pub struct Condition {
    pub hold: Hold,
    pub life: Lifecycle,
}

/// The timing parameters of one rule.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub min: Duration,
    pub clear: Duration,
    pub cooldown: Duration,
}

impl Condition {
    pub fn step(&mut self, t: Duration, holds: bool, timing: Timing, keys: &mut u64) -> Step {
        self.hold.observe(t, holds, timing.clear);
        let qualifies = match self.hold.since() {
            Some(since) if self.hold.holding() && t.saturating_sub(since) >= timing.min => {
                Some(since)
            }
            _ => None,
        };
        self.life
            .step(t, qualifies, timing.clear, timing.cooldown, keys)
    }
}
