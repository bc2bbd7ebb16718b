//! Where media lives under the data directory, and the only way to turn an id into a path:
//! every id is checked against a strict pattern first, so no request can name a file outside
//! `<data_dir>/media`.
//!
//! Layout: `media/snapshots/<incident_id>.jpg` (annotated), `media/snapshots/<incident_id>.raw.jpg`
//! (the unannotated frame), `media/clips/<incident_id>.mp4`. Files being written carry a `.part`
//! suffix and are renamed when complete.

use std::path::{Path, PathBuf};

use crate::camera::validate_id;
use crate::error::{ErrorKind, Result, ResultExt};

/// The media folder of a data directory.
pub fn media_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("media")
}

/// The annotated snapshot (`annotated`) or the plain frame of an incident.
pub fn snapshot_path(data_dir: &Path, incident_id: &str, annotated: bool) -> Result<PathBuf> {
    validate_id("incident_id", incident_id)?;
    let name = if annotated {
        format!("{incident_id}.jpg")
    } else {
        format!("{incident_id}.raw.jpg")
    };
    Ok(media_dir(data_dir).join("snapshots").join(name))
}

/// The clip of an incident.
pub fn clip_path(data_dir: &Path, incident_id: &str) -> Result<PathBuf> {
    validate_id("incident_id", incident_id)?;
    Ok(media_dir(data_dir)
        .join("clips")
        .join(format!("{incident_id}.mp4")))
}

/// The temporary name a file is written under before it is renamed to `path`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Makes a finished `part` file durable, then gives it its real name `path` (and syncs the
/// directory, best effort), so that a crash leaves either nothing or the whole file under `path`.
pub fn commit_partial(part: &Path, path: &Path) -> Result<()> {
    std::fs::File::open(part)
        .and_then(|f| f.sync_all())
        .ctx(ErrorKind::Internal, format!("syncing {}", part.display()))?;
    std::fs::rename(part, path).ctx(
        ErrorKind::Internal,
        format!("renaming {} to {}", part.display(), path.display()),
    )?;
    if let Some(dir) = path.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Writes `bytes` to `path` through its `.part` name (creating the folder); on failure nothing
/// is left under either name.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .ctx(ErrorKind::Internal, format!("creating {}", dir.display()))?;
    }
    let part = partial_path(path);
    let written = std::fs::write(&part, bytes)
        .ctx(ErrorKind::Internal, format!("writing {}", part.display()))
        .and_then(|()| commit_partial(&part, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_leave_the_media_dir_are_refused() {
        let d = Path::new("/data");
        for bad in ["../etc/passwd", "a/b", "", "..", "A", "x.y", "/abs", "a\0b"] {
            assert!(snapshot_path(d, bad, true).is_err(), "{bad:?}");
            assert!(clip_path(d, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            clip_path(d, "inc-1").unwrap(),
            Path::new("/data/media/clips/inc-1.mp4")
        );
        assert_eq!(
            snapshot_path(d, "inc-1", false).unwrap(),
            Path::new("/data/media/snapshots/inc-1.raw.jpg")
        );
        assert_eq!(
            partial_path(Path::new("/x/a.mp4")),
            Path::new("/x/a.mp4.part")
        );
    }
}
