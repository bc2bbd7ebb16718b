//! Fan-out of committed events to subscribers, with replay. The writer publishes each event after
//! its commit on a bounded broadcast (policy: a receiver that falls behind loses its place, never
//! slows the writer). A subscriber first subscribes to live events, then replays the log from its
//! cursor until the store has nothing newer, then takes live events, skipping those it already
//! sent; when it lags (or sees a gap) it goes back to the store from its last sequence. So every
//! subscriber gets every matching event once, in sequence order, however slow it is.

use std::sync::{Arc, Mutex};

use prometheus::{IntCounter, IntGauge};

use tokio::sync::{broadcast, mpsc};

use super::model::{Incident, IncidentEvent};
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::rules::spec::{IncidentKind, Severity};
use crate::store::IncidentStore;

/// Live events held for subscribers; one that is further behind is caught up from the store.
pub const LIVE_BUFFER: usize = 256;
/// Events read from the store per replay query.
const REPLAY_BATCH: usize = 256;

#[derive(Clone)]
pub struct Hub {
    live: Arc<Mutex<Option<broadcast::Sender<Arc<IncidentEvent>>>>>,
    metrics: HubMetrics,
}

/// The hub's Prometheus metrics (registered by the server).
#[derive(Clone)]
pub struct HubMetrics {
    /// Events committed and published.
    pub events: IntCounter,
    /// Subscribers that fell behind the live buffer and were caught up from the store.
    pub catch_ups: IntCounter,
    /// Open subscriptions.
    pub subscribers: IntGauge,
}

impl HubMetrics {
    fn new() -> HubMetrics {
        let c = |n: &str, h: &str| IntCounter::new(n, h).expect("static metric");
        HubMetrics {
            events: c(
                "incident_events_total",
                "incident events committed and published",
            ),
            catch_ups: c(
                "incident_subscriber_catch_ups_total",
                "times a slow subscriber fell behind the live buffer and was caught up from the store",
            ),
            subscribers: IntGauge::new("incident_subscribers", "open incident subscriptions")
                .expect("static metric"),
        }
    }

    /// Registers every metric with `m`.
    pub fn register(&self, m: &crate::metrics::Metrics) {
        m.register(Box::new(self.events.clone()));
        m.register(Box::new(self.catch_ups.clone()));
        m.register(Box::new(self.subscribers.clone()));
    }
}

/// Counts a subscription while it lives.
struct Subscribed(IntGauge);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Hub {
    pub(super) fn new() -> Hub {
        let (tx, _) = broadcast::channel(LIVE_BUFFER);
        Hub {
            live: Arc::new(Mutex::new(Some(tx))),
            metrics: HubMetrics::new(),
        }
    }

    fn sender(&self) -> std::sync::MutexGuard<'_, Option<broadcast::Sender<Arc<IncidentEvent>>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn publish(&self, ev: Arc<IncidentEvent>) {
        self.metrics.events.inc();
        if let Some(tx) = self.sender().as_ref() {
            // No receiver is not an error: nobody is subscribed.
            let _ = tx.send(ev);
        }
    }

    /// Ends every live subscription (they finish with `Unavailable`).
    pub(super) fn close(&self) {
        self.sender().take();
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Arc<IncidentEvent>>> {
        self.sender().as_ref().map(|tx| tx.subscribe())
    }

    /// How many times a subscriber fell behind the live buffer and was caught up from the store.
    pub fn catch_ups(&self) -> u64 {
        self.metrics.catch_ups.get()
    }

    pub fn metrics(&self) -> &HubMetrics {
        &self.metrics
    }
}

/// Which events a subscriber wants; empty lists match everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub cameras: Vec<String>,
    pub kinds: Vec<IncidentKind>,
    pub min_severity: Option<Severity>,
}

impl Filter {
    pub fn matches(&self, i: &Incident) -> bool {
        (self.cameras.is_empty() || self.cameras.contains(&i.camera_id))
            && (self.kinds.is_empty() || self.kinds.contains(&i.kind))
            && self.min_severity.is_none_or(|m| i.severity >= m)
    }
}

fn resubscribe(last: u64, why: &str) -> Error {
    crate::err!(
        Unavailable,
        "{why}; resubscribe with after_sequence = {last}"
    )
}

/// Sends every committed event after `after` that matches `filter` to `out`, in order, then live
/// ones as they are committed. Returns when `out` is closed (the client left), or sends an
/// `Unavailable` error naming the cursor to resume from when the log stops.
pub async fn follow(
    store: Arc<dyn IncidentStore>,
    hub: Hub,
    after: u64,
    filter: Filter,
    out: mpsc::Sender<Result<Arc<IncidentEvent>>>,
) {
    // Subscribe to live events before reading the store: whatever is committed after this point
    // reaches us live, whatever was committed before is in the store.
    let Some(mut live) = hub.subscribe() else {
        let _ = out
            .send(Err(resubscribe(after, "the incident log is stopped")))
            .await;
        return;
    };
    hub.metrics.subscribers.inc();
    let _subscribed = Subscribed(hub.metrics.subscribers.clone());
    // `last` is the greatest sequence handled (sent or filtered out), matching or not.
    let mut last = after;
    'catch_up: loop {
        loop {
            let s = store.clone();
            let from = last;
            let batch =
                tokio::task::spawn_blocking(move || s.incident_events_after(from, REPLAY_BATCH))
                    .await
                    .ctx(ErrorKind::Internal, "replay task failed")
                    .and_then(|r| r);
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    let _ = out.send(Err(e)).await;
                    return;
                }
            };
            if batch.is_empty() {
                break;
            }
            for ev in batch {
                last = ev.sequence;
                if filter.matches(&ev.incident) && out.send(Ok(Arc::new(ev))).await.is_err() {
                    return;
                }
            }
        }
        loop {
            let ev = tokio::select! {
                r = live.recv() => r,
                _ = out.closed() => return,
            };
            match ev {
                Ok(ev) if ev.sequence <= last => {}
                Ok(ev) if ev.sequence == last + 1 => {
                    last = ev.sequence;
                    if filter.matches(&ev.incident) && out.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                // A gap (cannot happen while the writer is the only publisher) or a lag: the
                // store has everything after `last`.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    hub.metrics.catch_ups.inc();
                    tracing::debug!(last, "subscriber fell behind; catching up from the store");
                    continue 'catch_up;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let _ = out
                        .send(Err(resubscribe(last, "the incident log stopped")))
                        .await;
                    return;
                }
            }
        }
    }
}
