//! The embedded store: one SQLite file (`vigil.db`) in the data directory, in WAL mode with full
//! synchronisation so that a committed write survives `kill -9`. Migrations are versioned with
//! `PRAGMA user_version` and applied at open. This is the only module that imports `rusqlite`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::camera::{Analytics, Camera, Credentials, Location, Transport};
use crate::error::{ErrorKind, Result, ResultExt};
use crate::{bail, err};

/// Schema migrations; entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the camera registry.
    "CREATE TABLE camera (
        id TEXT PRIMARY KEY NOT NULL,
        display_name TEXT NOT NULL,
        url TEXT NOT NULL,
        username TEXT,
        password TEXT,
        transport TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        location TEXT,
        analysis_fps REAL NOT NULL,
        analytics TEXT NOT NULL,
        create_time_ms INTEGER NOT NULL,
        update_time_ms INTEGER NOT NULL
    ) STRICT;",
    // 2: the incident log (see sqlite_incidents.rs).
    super::sqlite_incidents::MIGRATION,
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `vigil.db` in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir).ctx(
            ErrorKind::Internal,
            format!("creating data directory {}", data_dir.display()),
        )?;
        let path = data_dir.join("vigil.db");
        let conn = Connection::open(&path)
            .ctx(ErrorKind::Internal, format!("opening {}", path.display()))?;
        restrict_permissions(&path);
        conn.busy_timeout(Duration::from_secs(5))
            .ctx(ErrorKind::Internal, "setting busy timeout")?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .ctx(ErrorKind::Internal, "enabling WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")
            .ctx(ErrorKind::Internal, "setting synchronous")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .ctx(ErrorKind::Internal, "enabling foreign keys")?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .ctx(ErrorKind::Internal, "reading schema version")?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            bail!(
                FailedPrecondition,
                "database schema version {version} is newer than this vigil ({known}): upgrade vigil"
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn
                .transaction()
                .ctx(ErrorKind::Internal, "starting migration")?;
            tx.execute_batch(sql)
                .ctx(ErrorKind::Internal, format!("applying migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .ctx(ErrorKind::Internal, "recording schema version")?;
            tx.commit()
                .ctx(ErrorKind::Internal, "committing migration")?;
            tracing::info!(version = i + 1, "applied database migration");
        }
        Ok(())
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // The database holds camera credentials: readable by the service's user only.
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(%e, path = %path.display(), "could not restrict database permissions");
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

pub(super) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).ctx(ErrorKind::Internal, "encoding camera")
}

const CAMERA_COLUMNS: &str = "id, display_name, url, username, password, transport, enabled, location, \
     analysis_fps, analytics, create_time_ms, update_time_ms";

fn row_to_camera(r: &rusqlite::Row<'_>) -> rusqlite::Result<Camera> {
    let text_err = |i, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let username: Option<String> = r.get(3)?;
    let password: Option<String> = r.get(4)?;
    let transport: String = r.get(5)?;
    let location: Option<String> = r.get(7)?;
    let analytics: String = r.get(9)?;
    Ok(Camera {
        id: r.get(0)?,
        display_name: r.get(1)?,
        url: r.get(2)?,
        credentials: username.map(|username| Credentials {
            username,
            password: password.unwrap_or_default(),
        }),
        transport: if transport == "udp" {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        enabled: r.get(6)?,
        location: location
            .map(|l| serde_json::from_str::<Location>(&l))
            .transpose()
            .map_err(|e| text_err(7, e))?,
        analysis_fps: r.get(8)?,
        analytics: serde_json::from_str::<Analytics>(&analytics).map_err(|e| text_err(9, e))?,
        create_time: from_ms(r.get(10)?),
        update_time: from_ms(r.get(11)?),
    })
}

fn camera_values(c: &Camera) -> Result<[Box<dyn rusqlite::ToSql>; 12]> {
    Ok([
        Box::new(c.id.clone()),
        Box::new(c.display_name.clone()),
        Box::new(c.url.clone()),
        Box::new(c.credentials.as_ref().map(|c| c.username.clone())),
        Box::new(c.credentials.as_ref().map(|c| c.password.clone())),
        Box::new(match c.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }),
        Box::new(c.enabled),
        Box::new(c.location.as_ref().map(json).transpose()?),
        Box::new(c.analysis_fps),
        Box::new(json(&c.analytics)?),
        Box::new(to_ms(c.create_time)),
        Box::new(to_ms(c.update_time)),
    ])
}

impl Store for SqliteStore {
    fn create_camera(&self, camera: &Camera) -> Result<()> {
        let values = camera_values(camera)?;
        let conn = self.lock();
        let sql = format!(
            "INSERT INTO camera ({CAMERA_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        );
        match conn.execute(&sql, rusqlite::params_from_iter(values.iter())) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(err!(AlreadyExists, "camera {} already exists", camera.id))
            }
            Err(e) => Err(err!(Internal, "storing camera {}", camera.id).with_source(e)),
        }
    }

    fn get_camera(&self, id: &str) -> Result<Camera> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {CAMERA_COLUMNS} FROM camera WHERE id = ?1"),
            params![id],
            row_to_camera,
        )
        .optional()
        .ctx(ErrorKind::Internal, format!("reading camera {id}"))?
        .ok_or_else(|| err!(NotFound, "camera {id} not found"))
    }

    fn list_cameras(&self, after: Option<&str>, limit: usize) -> Result<Vec<Camera>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {CAMERA_COLUMNS} FROM camera WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .ctx(ErrorKind::Internal, "listing cameras")?;
        let rows = stmt
            .query_map(params![after.unwrap_or(""), limit as i64], row_to_camera)
            .ctx(ErrorKind::Internal, "listing cameras")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx(ErrorKind::Internal, "listing cameras")
    }

    fn update_camera(&self, camera: &Camera) -> Result<()> {
        let values = camera_values(camera)?;
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE camera SET display_name = ?2, url = ?3, username = ?4, password = ?5, transport = ?6, \
                 enabled = ?7, location = ?8, analysis_fps = ?9, analytics = ?10, create_time_ms = ?11, \
                 update_time_ms = ?12 WHERE id = ?1",
                rusqlite::params_from_iter(values.iter()),
            )
            .ctx(ErrorKind::Internal, format!("updating camera {}", camera.id))?;
        if n == 0 {
            bail!(NotFound, "camera {} not found", camera.id);
        }
        Ok(())
    }

    fn delete_camera(&self, id: &str) -> Result<()> {
        let conn = self.lock();
        let n = conn
            .execute("DELETE FROM camera WHERE id = ?1", params![id])
            .ctx(ErrorKind::Internal, format!("deleting camera {id}"))?;
        if n == 0 {
            bail!(NotFound, "camera {id} not found");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Analytics;

    fn cam(id: &str) -> Camera {
        Camera {
            id: id.into(),
            display_name: "x".into(),
            url: "rtsp://h/s".into(),
            credentials: Some(Credentials {
                username: "u".into(),
                password: "p".into(),
            }),
            transport: Transport::Udp,
            enabled: true,
            location: Some(Location {
                latitude: 10.8,
                longitude: 106.6,
                address: "HCMC".into(),
            }),
            analysis_fps: 5.0,
            analytics: Analytics::default(),
            create_time: from_ms(1_000),
            update_time: from_ms(2_000),
        }
    }

    #[test]
    fn crud_roundtrip_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.create_camera(&cam("b")).unwrap();
            s.create_camera(&cam("a")).unwrap();
            assert_eq!(
                s.create_camera(&cam("a")).unwrap_err().kind(),
                ErrorKind::AlreadyExists
            );
            let ids: Vec<_> = s
                .list_cameras(None, 10)
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(ids, ["a", "b"]);
            assert_eq!(s.list_cameras(Some("a"), 10).unwrap().len(), 1);
            let mut c = s.get_camera("a").unwrap();
            assert_eq!(c, cam("a"));
            c.display_name = "renamed".into();
            s.update_camera(&c).unwrap();
            s.delete_camera("b").unwrap();
            assert_eq!(
                s.delete_camera("b").unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.get_camera("a").unwrap().display_name, "renamed");
        assert_eq!(s.get_camera("b").unwrap_err().kind(), ErrorKind::NotFound);
    }
}
