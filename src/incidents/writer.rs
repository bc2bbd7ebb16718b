//! The incident writer: one named thread that turns rule events, review actions and media updates
//! into committed events of the log, one SQLite transaction each, and only then publishes them to
//! the hub. Being the only writer makes the order of sequence numbers the order of publication.
//!
//! Its queue is bounded with the policy **block**: incidents are never dropped, and callers wait
//! (rule events are rare). It never reads the network and never decides what an incident is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::hub::Hub;
use super::model::{
    AuditEntry, Clip, ClipState, EventType, Incident, IncidentEvent, Object, Resolution, Review,
    SnapshotState, Status,
};
use crate::error::Result;
use crate::rules::{Phase, RuleEvent};
use crate::store::IncidentStore;
use crate::{bail, err};

/// How many commands may wait for the writer before senders block.
pub const QUEUE: usize = 256;

/// Identifies one life of one rule engine: engine-local keys are unique only within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EngineToken(pub(super) u64);

/// An operator's review action.
#[derive(Clone, Debug)]
pub enum ReviewAction {
    Acknowledge,
    Resolve {
        resolution: Resolution,
        note: String,
    },
    Note {
        note: String,
    },
}

/// What the media stage reports for an incident.
#[derive(Clone, Debug)]
pub enum MediaUpdate {
    Snapshot(SnapshotState),
    Clip(Clip),
    /// Retention deleted the snapshot and the clip (the clip keeps its times).
    Expired,
}

pub(super) type Reply = oneshot::Sender<Result<IncidentEvent>>;

pub(super) enum Command {
    Rule(EngineToken, RuleEvent, Reply),
    Review {
        id: String,
        actor: String,
        action: ReviewAction,
        reply: Reply,
    },
    Media(String, MediaUpdate, Reply),
    /// Stop taking commands, commit the ones queued, then exit.
    Stop,
}

pub(super) fn queue() -> (mpsc::Sender<Command>, mpsc::Receiver<Command>) {
    mpsc::channel(QUEUE)
}

/// A durable, globally unique incident id: `inc-<unix ms>-<64 random bits in hex>`.
pub fn new_incident_id(now: SystemTime) -> String {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    format!("inc-{ms}-{:016x}", rand::random::<u64>())
}

/// The current time at the store's precision (milliseconds), so that what subscribers see live
/// equals what they replay.
fn now_ms() -> SystemTime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64)
}

struct Writer {
    store: Arc<dyn IncidentStore>,
    hub: Hub,
    /// (engine, camera, key) -> incident id, for incidents still open.
    open: HashMap<(EngineToken, String, u64), String>,
}

/// Runs the writer until `Stop` (or every sender is gone); returns when the queue is drained.
pub(super) fn run(store: Arc<dyn IncidentStore>, hub: Hub, mut rx: mpsc::Receiver<Command>) {
    let mut w = Writer {
        store,
        hub,
        open: HashMap::new(),
    };
    if let Err(e) = w.close_orphans() {
        tracing::error!(error = %e, "closing incidents left open by the previous run");
    }
    while let Some(cmd) = rx.blocking_recv() {
        let (result, reply) = match cmd {
            Command::Stop => {
                rx.close();
                continue;
            }
            Command::Rule(engine, ev, reply) => (w.rule(engine, ev), reply),
            Command::Review {
                id,
                actor,
                action,
                reply,
            } => (w.review(&id, actor, action), reply),
            Command::Media(id, update, reply) => (w.media(&id, update), reply),
        };
        match &result {
            Ok(ev) => w.hub.publish(Arc::new(ev.clone())),
            Err(e) if e.kind() == crate::error::ErrorKind::Internal => {
                tracing::error!(error = %e, "incident event not committed")
            }
            Err(_) => {}
        }
        let _ = reply.send(result);
    }
    w.hub.close();
    tracing::info!("incident writer stopped");
}

fn objects(v: &[crate::rules::Involved]) -> Vec<Object> {
    v.iter()
        .map(|o| Object {
            track_id: o.track_id,
            class: o.class.clone(),
            bbox: o.bbox,
        })
        .collect()
}

impl Writer {
    fn commit(
        &self,
        inc: &Incident,
        t: EventType,
        audit: Option<&AuditEntry>,
    ) -> Result<IncidentEvent> {
        self.store
            .commit_incident_event(inc, t, inc.update_time, audit)
    }

    /// Incidents still open in the store belong to rule engines of an earlier run, which will
    /// never close them: close them now, ending at their last update.
    fn close_orphans(&mut self) -> Result<()> {
        let q = crate::incidents::model::IncidentQuery {
            status: Some(Status::Open),
            ..Default::default()
        };
        let orphans = self.store.list_incidents(&q, None, i32::MAX as usize)?;
        for (_, mut inc) in orphans.into_iter().rev() {
            inc.status = Status::Closed;
            inc.end_time = Some(inc.update_time);
            inc.update_time = now_ms();
            let ev = self.commit(&inc, EventType::Closed, None)?;
            tracing::info!(incident = %inc.id, "closed an incident left open by the previous run");
            self.hub.publish(Arc::new(ev));
        }
        Ok(())
    }

    fn rule(&mut self, engine: EngineToken, ev: RuleEvent) -> Result<IncidentEvent> {
        crate::camera::validate_id("camera_id", &ev.camera_id)?;
        let key = (engine, ev.camera_id.clone(), ev.key);
        let now = now_ms();
        match ev.phase {
            Phase::Opened => {
                if self.open.contains_key(&key) {
                    bail!(
                        FailedPrecondition,
                        "key: incident {} of camera {} is already open",
                        ev.key,
                        ev.camera_id
                    );
                }
                let inc = Incident {
                    id: new_incident_id(now),
                    camera_id: ev.camera_id.clone(),
                    rule_id: ev.rule_id.clone(),
                    kind: ev.kind,
                    severity: ev.severity,
                    zone_id: ev.zone_id.clone(),
                    status: Status::Open,
                    review: Review::New,
                    resolution: None,
                    start_time: ev.wall_at(ev.start),
                    end_time: None,
                    objects: objects(&ev.objects),
                    peak: ev.peak.clone(),
                    summary: ev.summary.clone(),
                    snapshot: SnapshotState::Pending,
                    clip: Clip {
                        state: ClipState::Pending,
                        start: None,
                        end: None,
                    },
                    update_time: now,
                    detect_time: Some(ev.wall),
                };
                let out = self.commit(&inc, EventType::Opened, None)?;
                self.open.insert(key, inc.id);
                Ok(out)
            }
            Phase::Updated | Phase::Closed => {
                let Some(id) = self.open.get(&key).cloned() else {
                    bail!(
                        FailedPrecondition,
                        "key: no open incident {} of camera {} in this engine",
                        ev.key,
                        ev.camera_id
                    );
                };
                let mut inc = self.store.get_incident(&id)?;
                for o in objects(&ev.objects) {
                    if !inc.objects.iter().any(|x| x.track_id == o.track_id) {
                        inc.objects.push(o);
                    }
                }
                inc.peak = ev.peak.clone();
                inc.summary = ev.summary.clone();
                inc.severity = ev.severity;
                inc.update_time = now;
                let t = if ev.phase == Phase::Closed {
                    inc.status = Status::Closed;
                    inc.end_time = Some(ev.wall_at(ev.end.unwrap_or(ev.at)));
                    EventType::Closed
                } else {
                    EventType::Updated
                };
                let out = self.commit(&inc, t, None)?;
                if t == EventType::Closed {
                    self.open.remove(&key);
                }
                Ok(out)
            }
        }
    }

    fn review(&mut self, id: &str, actor: String, action: ReviewAction) -> Result<IncidentEvent> {
        let mut inc = self.store.get_incident(id)?;
        let now = now_ms();
        let (t, resolution, note) = match action {
            ReviewAction::Acknowledge => {
                match inc.review {
                    Review::New => {}
                    Review::Acknowledged => {
                        bail!(FailedPrecondition, "incident {id} is already acknowledged")
                    }
                    Review::Resolved => bail!(FailedPrecondition, "incident {id} is resolved"),
                }
                inc.review = Review::Acknowledged;
                (EventType::Acknowledged, None, String::new())
            }
            ReviewAction::Resolve { resolution, note } => {
                if inc.review == Review::Resolved {
                    bail!(FailedPrecondition, "incident {id} is already resolved");
                }
                inc.review = Review::Resolved;
                inc.resolution = Some(resolution);
                (EventType::Resolved, Some(resolution), note)
            }
            ReviewAction::Note { note } => (EventType::Note, None, note),
        };
        inc.update_time = now;
        let audit = AuditEntry {
            time: now,
            actor,
            action: t,
            resolution,
            note,
        };
        self.commit(&inc, t, Some(&audit))
    }

    fn media(&mut self, id: &str, update: MediaUpdate) -> Result<IncidentEvent> {
        let mut inc = self.store.get_incident(id)?;
        match update {
            MediaUpdate::Snapshot(s) => inc.snapshot = s,
            MediaUpdate::Clip(c) => {
                if let (Some(a), Some(b)) = (c.start, c.end)
                    && b < a
                {
                    return Err(err!(InvalidArgument, "clip.end: before clip.start"));
                }
                inc.clip = c;
            }
            MediaUpdate::Expired => {
                inc.snapshot = SnapshotState::Expired;
                inc.clip.state = ClipState::Expired;
            }
        }
        inc.update_time = now_ms();
        self.commit(&inc, EventType::Media, None)
    }
}
