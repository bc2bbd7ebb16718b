//! Persistence. Everything that touches the database goes through the [`Store`] trait, so that a
//! PostgreSQL store can serve deployments that outgrow one machine. The embedded default is
//! [`sqlite::SqliteStore`]. Store methods block: async callers run them on `spawn_blocking`.

pub mod sqlite;
mod sqlite_incidents;

use crate::camera::Camera;
use crate::error::Result;
use crate::incidents::model::{AuditEntry, EventType, Incident, IncidentEvent, IncidentQuery};

/// The camera registry and (later) the incident log.
pub trait Store: Send + Sync + 'static {
    /// Stores a new camera; `AlreadyExists` if its id is taken.
    fn create_camera(&self, camera: &Camera) -> Result<()>;
    /// `NotFound` if there is no such camera.
    fn get_camera(&self, id: &str) -> Result<Camera>;
    /// Cameras ordered by id, starting after `after`, at most `limit`.
    fn list_cameras(&self, after: Option<&str>, limit: usize) -> Result<Vec<Camera>>;
    /// Replaces a camera (matched by id); `NotFound` if it does not exist.
    fn update_camera(&self, camera: &Camera) -> Result<()>;
    /// `NotFound` if there is no such camera.
    fn delete_camera(&self, id: &str) -> Result<()>;
}

/// The incident log: incident records, their events in sequence order, and the append-only audit
/// trail of review actions. Only the incident writer calls the `commit_*` method, so the order of
/// sequence numbers is the order in which subscribers see events.
pub trait IncidentStore: Send + Sync + 'static {
    /// In one transaction: stores `incident` (inserted if new, else replaced), appends `audit` to
    /// the trail if given, and appends an event of `event_type` carrying the record; returns the
    /// event with its sequence number (greater than every one before, never reused).
    fn commit_incident_event(
        &self,
        incident: &Incident,
        event_type: EventType,
        time: std::time::SystemTime,
        audit: Option<&AuditEntry>,
    ) -> Result<IncidentEvent>;
    /// `NotFound` if there is no such incident.
    fn get_incident(&self, id: &str) -> Result<Incident>;
    /// The incident's review actions, oldest first.
    fn incident_audit(&self, id: &str) -> Result<Vec<AuditEntry>>;
    /// Committed events with a sequence greater than `after`, in order, at most `limit`.
    fn incident_events_after(&self, after: u64, limit: usize) -> Result<Vec<IncidentEvent>>;
    /// The greatest committed sequence number (0 when the log is empty).
    fn last_incident_sequence(&self) -> Result<u64>;
    /// Incidents matching `q`, newest first, with a cursor for each: pass the last one's cursor as
    /// `before` to get the next page.
    fn list_incidents(
        &self,
        q: &IncidentQuery,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, Incident)>>;
    /// Incidents whose snapshot or clip may still be on disk, oldest first, at most `limit`.
    fn incidents_with_media(&self, limit: usize) -> Result<Vec<Incident>>;
}

pub use sqlite::SqliteStore;
