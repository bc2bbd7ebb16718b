//! The incident stage: gives each incident of the rule engines its durable id, commits every event
//! of its life (and every review action and media update) to the store with a sequence number,
//! and only then fans it out to subscribers, who can replay the log from any sequence. Retention
//! of media lives here too. This module never touches video, the detector or protobuf types.

pub mod hub;
pub mod model;
pub mod retention;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

pub use hub::{Filter, Hub};
pub use model::{Incident, IncidentEvent};
pub use writer::{EngineToken, MediaUpdate, ReviewAction};

use crate::error::Result;
use crate::rules::RuleEvent;
use crate::store::IncidentStore;
use writer::Command;

/// The handle to the incident log: submit rule events, review actions and media updates (each
/// returns once committed), and subscribe. Cheap to clone.
#[derive(Clone)]
pub struct IncidentLog {
    tx: mpsc::Sender<Command>,
    store: Arc<dyn IncidentStore>,
    hub: Hub,
    engines: Arc<AtomicU64>,
}

/// The writer thread, joined by [`IncidentWriter::stop`].
pub struct IncidentWriter {
    tx: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn stopped() -> crate::error::Error {
    crate::err!(Unavailable, "the incident log is stopped")
}

/// Starts the writer thread over `store`.
pub fn start(store: Arc<dyn IncidentStore>) -> Result<(IncidentLog, IncidentWriter)> {
    let (tx, rx) = writer::queue();
    let hub = Hub::new();
    let (s, h) = (store.clone(), hub.clone());
    let thread = std::thread::Builder::new()
        .name("incident-writer".into())
        .spawn(move || writer::run(s, h, rx))
        .map_err(|e| crate::err!(Internal, "starting the incident writer: {e}"))?;
    let log = IncidentLog {
        tx: tx.clone(),
        store,
        hub,
        engines: Arc::new(AtomicU64::new(1)),
    };
    Ok((
        log,
        IncidentWriter {
            tx,
            thread: Some(thread),
        },
    ))
}

impl IncidentLog {
    /// A fresh token for one life of one rule engine: call it whenever an engine (re)starts, and
    /// pass it with each of its events, so that its keys never collide with an earlier life's.
    pub fn engine(&self) -> EngineToken {
        EngineToken(self.engines.fetch_add(1, Ordering::Relaxed))
    }

    async fn call(&self, f: impl FnOnce(writer::Reply) -> Command) -> Result<IncidentEvent> {
        let (reply, rx) = oneshot::channel();
        // Policy when the queue is full: block (wait), never drop.
        self.tx.send(f(reply)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Commits a rule event; returns the committed event (with the incident's id).
    pub async fn submit(&self, engine: EngineToken, ev: RuleEvent) -> Result<IncidentEvent> {
        self.call(|r| Command::Rule(engine, ev, r)).await
    }

    /// [`IncidentLog::submit`] for callers on a plain thread (never on a tokio worker).
    pub fn blocking_submit(&self, engine: EngineToken, ev: RuleEvent) -> Result<IncidentEvent> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Command::Rule(engine, ev, reply))
            .map_err(|_| stopped())?;
        rx.blocking_recv().map_err(|_| stopped())?
    }

    /// Records a review action by `actor` (validated by the caller); `NotFound` for an unknown id,
    /// `FailedPrecondition` when the incident's review status does not allow it.
    pub async fn review(
        &self,
        id: &str,
        actor: &str,
        action: ReviewAction,
    ) -> Result<IncidentEvent> {
        let (id, actor) = (id.to_string(), actor.to_string());
        self.call(|reply| Command::Review {
            id,
            actor,
            action,
            reply,
        })
        .await
    }

    /// Records that an incident's snapshot or clip changed state (the media stage calls it when a
    /// snapshot is written or a clip is complete or failed; retention when it expires them).
    pub async fn media_ready(&self, id: &str, update: MediaUpdate) -> Result<IncidentEvent> {
        let id = id.to_string();
        self.call(|r| Command::Media(id, update, r)).await
    }

    pub fn store(&self) -> &Arc<dyn IncidentStore> {
        &self.store
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Streams matching events after `after` to `out` (see [`hub::follow`]).
    pub async fn follow(
        &self,
        after: u64,
        filter: Filter,
        out: mpsc::Sender<Result<Arc<IncidentEvent>>>,
    ) {
        hub::follow(self.store.clone(), self.hub.clone(), after, filter, out).await
    }
}

impl IncidentWriter {
    /// Stops taking commands, lets the writer commit what is queued, and waits for it.
    pub async fn stop(mut self) {
        let _ = self.tx.send(Command::Stop).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
