//! The incident log in SQLite: `incident` (the latest record of each incident, as JSON beside the
//! columns queries filter on), `incident_event` (the log; `AUTOINCREMENT` so that a sequence number
//! is never reused, not even after a crash or a deletion) and `incident_audit` (review actions;
//! triggers refuse any update or delete). Every event is one transaction.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};

use super::IncidentStore;
use super::sqlite::{SqliteStore, from_ms, to_ms};
use crate::err;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::incidents::model::{
    AuditEntry, ClipState, EventType, Incident, IncidentEvent, IncidentQuery, SnapshotState,
};

pub(super) const MIGRATION: &str = "
    CREATE TABLE incident (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        camera_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        review TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        has_media INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incident_start ON incident (start_ms);
    CREATE TABLE incident_event (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL REFERENCES incident (id),
        type TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        record TEXT NOT NULL,
        audit TEXT
    ) STRICT;
    CREATE TABLE incident_audit (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL REFERENCES incident (id),
        time_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resolution TEXT,
        note TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incident_audit_incident ON incident_audit (incident_id, n);
    CREATE TRIGGER incident_audit_no_update BEFORE UPDATE ON incident_audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER incident_audit_no_delete BEFORE DELETE ON incident_audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
";

/// An enum's serde name (`"OPEN"`), for the filter columns.
fn name<T: serde::Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v).ctx(ErrorKind::Internal, "encoding enum")? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(err!(Internal, "enum encoded as {other}")),
    }
}

fn from_name<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn record(text: &str) -> rusqlite::Result<Incident> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn has_media(i: &Incident) -> bool {
    matches!(
        i.snapshot,
        SnapshotState::Available | SnapshotState::Pending
    ) || matches!(i.clip.state, ClipState::Ready | ClipState::Pending)
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentEvent> {
    let seq: i64 = r.get(0)?;
    let t: String = r.get(1)?;
    Ok(IncidentEvent {
        sequence: seq as u64,
        event_type: from_name(&t)?,
        time: from_ms(r.get(2)?),
        incident: record(&r.get::<_, String>(3)?)?,
        audit: r
            .get::<_, Option<String>>(4)?
            .map(|a| {
                serde_json::from_str(&a).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        4,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })
            })
            .transpose()?,
    })
}

impl IncidentStore for SqliteStore {
    fn commit_incident_event(
        &self,
        incident: &Incident,
        event_type: EventType,
        time: SystemTime,
        audit: Option<&AuditEntry>,
    ) -> Result<IncidentEvent> {
        let id = &incident.id;
        let rec = serde_json::to_string(incident).ctx(ErrorKind::Internal, "encoding incident")?;
        let ctx = || format!("committing {} of incident {id}", event_type.as_str());
        let mut conn = self.lock();
        let tx = conn.transaction().ctx(ErrorKind::Internal, ctx())?;
        tx.execute(
            "INSERT INTO incident (id, camera_id, kind, status, review, start_ms, has_media, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET status = ?4, review = ?5, has_media = ?7, record = ?8",
            params![
                id,
                incident.camera_id,
                incident.kind.as_str(),
                name(&incident.status)?,
                name(&incident.review)?,
                to_ms(incident.start_time),
                has_media(incident),
                rec
            ],
        )
        .ctx(ErrorKind::Internal, ctx())?;
        if let Some(a) = audit {
            tx.execute(
                "INSERT INTO incident_audit (incident_id, time_ms, actor, action, resolution, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    to_ms(a.time),
                    a.actor,
                    a.action.as_str(),
                    a.resolution.as_ref().map(name).transpose()?,
                    a.note
                ],
            )
            .ctx(ErrorKind::Internal, ctx())?;
        }
        let audit_json = audit
            .map(serde_json::to_string)
            .transpose()
            .ctx(ErrorKind::Internal, "encoding audit entry")?;
        tx.execute(
            "INSERT INTO incident_event (incident_id, type, time_ms, record, audit)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, event_type.as_str(), to_ms(time), rec, audit_json],
        )
        .ctx(ErrorKind::Internal, ctx())?;
        let seq = tx.last_insert_rowid();
        tx.commit().ctx(ErrorKind::Internal, ctx())?;
        Ok(IncidentEvent {
            sequence: seq as u64,
            event_type,
            incident: incident.clone(),
            time: from_ms(to_ms(time)),
            audit: audit.cloned(),
        })
    }

    fn get_incident(&self, id: &str) -> Result<Incident> {
        let conn = self.lock();
        let text: Option<String> = conn
            .query_row(
                "SELECT record FROM incident WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .ctx(ErrorKind::Internal, format!("reading incident {id}"))?;
        let text = text.ok_or_else(|| err!(NotFound, "incident {id} not found"))?;
        record(&text).ctx(ErrorKind::Internal, format!("decoding incident {id}"))
    }

    fn incident_audit(&self, id: &str) -> Result<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT time_ms, actor, action, resolution, note FROM incident_audit
                 WHERE incident_id = ?1 ORDER BY n",
            )
            .ctx(ErrorKind::Internal, "reading the audit trail")?;
        let rows = stmt
            .query_map(params![id], |r| {
                let action: String = r.get(2)?;
                let resolution: Option<String> = r.get(3)?;
                Ok(AuditEntry {
                    time: from_ms(r.get(0)?),
                    actor: r.get(1)?,
                    action: from_name(&action)?,
                    resolution: resolution.as_deref().map(from_name).transpose()?,
                    note: r.get(4)?,
                })
            })
            .ctx(ErrorKind::Internal, "reading the audit trail")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx(ErrorKind::Internal, "reading the audit trail")
    }

    fn incident_events_after(&self, after: u64, limit: usize) -> Result<Vec<IncidentEvent>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, type, time_ms, record, audit FROM incident_event WHERE seq > ?1
                 ORDER BY seq LIMIT ?2",
            )
            .ctx(ErrorKind::Internal, "reading incident events")?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![after, limit as i64], row_to_event)
            .ctx(ErrorKind::Internal, "reading incident events")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx(ErrorKind::Internal, "reading incident events")
    }

    fn last_incident_sequence(&self) -> Result<u64> {
        let conn = self.lock();
        // sqlite_sequence remembers the greatest sequence ever handed out, even if rows went.
        let seq: Option<i64> = conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'incident_event'",
                [],
                |r| r.get(0),
            )
            .optional()
            .ctx(ErrorKind::Internal, "reading the last sequence")?;
        Ok(seq.unwrap_or(0).max(0) as u64)
    }

    fn list_incidents(
        &self,
        q: &IncidentQuery,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, Incident)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT n, record FROM incident
                 WHERE n < ?1 AND start_ms >= ?2 AND start_ms < ?3
                   AND (?4 IS NULL OR camera_id = ?4) AND (?5 IS NULL OR kind = ?5)
                   AND (?6 IS NULL OR status = ?6) AND (?7 IS NULL OR review = ?7)
                 ORDER BY n DESC LIMIT ?8",
            )
            .ctx(ErrorKind::Internal, "listing incidents")?;
        let rows = stmt
            .query_map(
                params![
                    before.unwrap_or(i64::MAX),
                    q.start_after.map(to_ms).unwrap_or(i64::MIN),
                    q.start_before.map(to_ms).unwrap_or(i64::MAX),
                    q.camera_id,
                    q.kind.map(|k| k.as_str()),
                    q.status.as_ref().map(name).transpose()?,
                    q.review.as_ref().map(name).transpose()?,
                    limit as i64
                ],
                |r| Ok((r.get(0)?, record(&r.get::<_, String>(1)?)?)),
            )
            .ctx(ErrorKind::Internal, "listing incidents")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx(ErrorKind::Internal, "listing incidents")
    }

    fn incidents_with_media(&self, limit: usize) -> Result<Vec<Incident>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT record FROM incident WHERE has_media = 1 ORDER BY start_ms, n LIMIT ?1",
            )
            .ctx(ErrorKind::Internal, "listing incidents with media")?;
        let rows = stmt
            .query_map(params![limit as i64], |r| record(&r.get::<_, String>(0)?))
            .ctx(ErrorKind::Internal, "listing incidents with media")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx(ErrorKind::Internal, "listing incidents with media")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::model::{Clip, Review, Status};
    use crate::rules::spec::{IncidentKind, Severity};

    fn incident(id: &str) -> Incident {
        let t = from_ms(1_000);
        Incident {
            id: id.into(),
            camera_id: "c1".into(),
            rule_id: "r".into(),
            kind: IncidentKind::Crowd,
            severity: Severity::Info,
            zone_id: "z".into(),
            status: Status::Open,
            review: Review::New,
            resolution: None,
            start_time: t,
            end_time: None,
            objects: vec![],
            peak: Default::default(),
            summary: "s".into(),
            snapshot: SnapshotState::Pending,
            clip: Clip {
                state: ClipState::Pending,
                start: None,
                end: None,
            },
            update_time: t,
            detect_time: None,
        }
    }

    #[test]
    fn sequences_are_never_reused_and_the_audit_trail_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            assert_eq!(s.last_incident_sequence().unwrap(), 0);
            let a = incident("inc-a");
            let e1 = s
                .commit_incident_event(&a, EventType::Opened, from_ms(2_000), None)
                .unwrap();
            let audit = AuditEntry {
                time: from_ms(3_000),
                actor: "op".into(),
                action: EventType::Note,
                resolution: None,
                note: "n".into(),
            };
            let e2 = s
                .commit_incident_event(&a, EventType::Note, from_ms(3_000), Some(&audit))
                .unwrap();
            assert_eq!((e1.sequence, e2.sequence), (1, 2));
            assert_eq!(s.incident_audit("inc-a").unwrap(), [audit]);
            let conn = s.lock();
            for sql in [
                "UPDATE incident_audit SET note = 'edited'",
                "DELETE FROM incident_audit",
            ] {
                let e = conn.execute(sql, []).unwrap_err().to_string();
                assert!(e.contains("append-only"), "{sql}: {e}");
            }
            // Even if the newest event row went away, its number is not handed out again.
            conn.execute("DELETE FROM incident_event WHERE seq = 2", [])
                .unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.last_incident_sequence().unwrap(), 2);
        let e3 = s
            .commit_incident_event(&incident("inc-b"), EventType::Opened, from_ms(4_000), None)
            .unwrap();
        assert_eq!(e3.sequence, 3);
        let replay: Vec<u64> = s
            .incident_events_after(0, 10)
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(replay, [1, 3]);
        assert_eq!(s.get_incident("inc-b").unwrap(), incident("inc-b"));
        assert_eq!(
            s.get_incident("inc-x").unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
