//! Persistence. Everything that touches the database goes through the [`Store`] trait, so that a
//! PostgreSQL store can serve deployments that outgrow one machine. The embedded default is
//! [`sqlite::SqliteStore`]. Store methods block: async callers run them on `spawn_blocking`.

pub mod sqlite;

use crate::camera::Camera;
use crate::error::Result;

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

pub use sqlite::SqliteStore;
