//! The incident rules in offline analysis (`vigil analyze --rules CAMERA.toml`): a camera file's
//! zones, lines and rules applied to the tracks of each analysed frame, exactly as a live camera's
//! analysis applies them, with the events printed instead of committed. Stream times are seconds
//! from the start of the clip; an incident's `id` is the rule id and the engine's key, unique
//! within the run.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::output::Printer;
use crate::camera::CameraFile;
use crate::error::Result;
use crate::frame::Thumbnail;
use crate::rules::engine::{CountKey, Crossing, Engine, FrameInfo};
use crate::rules::{Phase, RuleEvent};
use crate::track::Track;

/// A camera file's rules over one frame sequence.
pub struct OfflineRules {
    engine: Engine,
    events: Vec<RuleEvent>,
    crossings: Vec<Crossing>,
    /// Incident events printed, by phase.
    pub incidents: BTreeMap<&'static str, u64>,
    /// Wall-clock time of stream time zero (the run's start: offline frames have no arrival).
    origin: SystemTime,
    last_t: Duration,
}

fn secs(t: Duration) -> f64 {
    (t.as_secs_f64() * 1e3).round() / 1e3
}

impl OfflineRules {
    pub fn new(file: &CameraFile, labels: &[String]) -> OfflineRules {
        let id = if file.id.is_empty() {
            "offline"
        } else {
            &file.id
        };
        OfflineRules {
            engine: Engine::new(id, &file.analytics(), labels),
            events: Vec::new(),
            crossings: Vec::new(),
            incidents: BTreeMap::new(),
            origin: SystemTime::now(),
            last_t: Duration::ZERO,
        }
    }

    /// Applies the rules to one frame's tracks (and its view, for `CAMERA_TAMPERING`) and prints
    /// what happened.
    pub fn step<W: std::io::Write>(
        &mut self,
        t: Duration,
        aspect: f64,
        tracks: &[Track],
        view: Option<&Thumbnail>,
        printer: &mut Printer<W>,
    ) -> Result<()> {
        let info = FrameInfo {
            t,
            wall: self.origin + t,
            aspect,
        };
        self.last_t = t;
        if let Some(thumb) = view {
            self.engine.on_view(t, info.wall, thumb, &mut self.events);
        }
        self.engine
            .on_frame(info, tracks, &mut self.events, &mut self.crossings);
        self.print(printer)
    }

    /// The clip ended: incidents still open are closed at the last frame's time.
    pub fn finish<W: std::io::Write>(&mut self, printer: &mut Printer<W>) -> Result<()> {
        let t = self.last_t;
        self.engine.close_all(t, self.origin + t, &mut self.events);
        self.print(printer)
    }

    /// Line-crossing totals.
    pub fn counts(&self) -> &BTreeMap<CountKey, u64> {
        self.engine.counts()
    }

    fn print<W: std::io::Write>(&mut self, printer: &mut Printer<W>) -> Result<()> {
        for c in self.crossings.drain(..) {
            let key = CountKey {
                line_id: c.line_id.clone(),
                class: c.class.clone(),
                direction: c.direction,
            };
            let count = self.engine.counts().get(&key).copied().unwrap_or(0);
            let line = json!({
                "type": "count",
                "line": c.line_id,
                "class": c.class,
                "direction": c.direction.as_str(),
                "count": count,
                "track_id": c.track_id,
                "t_s": secs(c.t),
            });
            let human = format!(
                "t={:>8.3}s count line {} {} {}: {count} (track #{})",
                c.t.as_secs_f64(),
                c.line_id,
                c.class,
                c.direction.as_str(),
                c.track_id
            );
            printer.event(&line, &human)?;
        }
        for ev in self.events.drain(..) {
            *self.incidents.entry(ev.phase.as_str()).or_default() += 1;
            let track_ids: Vec<u64> = ev.objects.iter().map(|o| o.track_id).collect();
            let mut classes: Vec<&str> = ev.objects.iter().map(|o| o.class.as_str()).collect();
            classes.sort_unstable();
            classes.dedup();
            let id = format!("{}-{}", ev.rule_id, ev.key);
            let end = (ev.phase == Phase::Closed).then(|| secs(ev.end.unwrap_or(ev.at)));
            let line = json!({
                "type": "incident",
                "event": ev.phase.as_str(),
                "id": id,
                "rule": ev.rule_id,
                "kind": ev.kind.as_str(),
                "severity": format!("{:?}", ev.severity).to_uppercase(),
                "zone": ev.zone_id,
                "t_s": secs(ev.at),
                "start_s": secs(ev.start),
                "end_s": end,
                "track_ids": track_ids,
                "classes": classes,
                "peak": ev.peak,
                "summary": ev.summary,
            });
            let human = format!(
                "t={:>8.3}s incident {} {} {} zone {:?} from {:.1} s: {} (tracks {:?})",
                ev.at.as_secs_f64(),
                ev.phase.as_str(),
                id,
                ev.kind.as_str(),
                ev.zone_id,
                ev.start.as_secs_f64(),
                ev.summary,
                track_ids
            );
            printer.event(&line, &human)?;
        }
        Ok(())
    }
}
