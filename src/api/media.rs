//! What the media endpoints (gRPC `MediaService` and the HTTP media routes) share: the three
//! files of an incident, their content types and HTTP paths, and reading a file as a stream of
//! chunks. Paths come only from `media::paths`, which validates the id first; this module never
//! joins a request's string into a path, and never serves a `.part` file (no id maps to one).

use std::io::SeekFrom;
use std::path::Path;

use futures::Stream;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::{ErrorKind, Result, ResultExt};
use crate::media::paths;
use crate::{bail, err};

/// The largest piece of a file read at once (a gRPC `ClipChunk`, an HTTP body frame).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// One of the media files of an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaFile {
    /// The annotated snapshot.
    Snapshot,
    /// The plain (unannotated) frame of the snapshot.
    Frame,
    /// The clip.
    Clip,
}

impl MediaFile {
    /// Every file, with its name in HTTP paths.
    pub const ALL: [(MediaFile, &'static str); 3] = [
        (MediaFile::Snapshot, "snapshot.jpg"),
        (MediaFile::Frame, "frame.jpg"),
        (MediaFile::Clip, "clip.mp4"),
    ];

    /// The file named `name` in an HTTP path (exact, case-sensitive), if any.
    pub fn from_http_name(name: &str) -> Option<MediaFile> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    pub fn http_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            MediaFile::Snapshot | MediaFile::Frame => "image/jpeg",
            MediaFile::Clip => "video/mp4",
        }
    }

    /// What the file is called in messages.
    pub fn what(self) -> &'static str {
        match self {
            MediaFile::Snapshot | MediaFile::Frame => "snapshot",
            MediaFile::Clip => "clip",
        }
    }

    /// Its path under `data_dir`; `media::paths` validates the id (INVALID_ARGUMENT otherwise).
    pub fn path(self, data_dir: &Path, incident_id: &str) -> Result<std::path::PathBuf> {
        match self {
            MediaFile::Snapshot => paths::snapshot_path(data_dir, incident_id, true),
            MediaFile::Frame => paths::snapshot_path(data_dir, incident_id, false),
            MediaFile::Clip => paths::clip_path(data_dir, incident_id),
        }
    }

    /// Its path on the HTTP listener: `/media/incidents/{incident_id}/{name}`.
    pub fn url(self, incident_id: &str) -> String {
        format!("/media/incidents/{incident_id}/{}", self.http_name())
    }
}

/// An open media file and its size.
pub struct Opened {
    pub file: File,
    pub size: u64,
}

/// Opens the media file of an incident: INVALID_ARGUMENT for an id `media::paths` refuses,
/// NOT_FOUND when there is no such (regular) file.
pub async fn open(data_dir: &Path, incident_id: &str, which: MediaFile) -> Result<Opened> {
    let path = which.path(data_dir, incident_id)?;
    let file = match File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                NotFound,
                "{} of incidents/{incident_id}: no such file",
                which.what()
            )
        }
        Err(e) => {
            return Err(err!(Internal, "opening {}", path.display()).with_source(e));
        }
    };
    let meta = file
        .metadata()
        .await
        .ctx(ErrorKind::Internal, format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            NotFound,
            "{} of incidents/{incident_id}: no such file",
            which.what()
        );
    }
    Ok(Opened {
        file,
        size: meta.len(),
    })
}

/// Reads `len` bytes of `file` from `start` as chunks of at most [`CHUNK_BYTES`], each with its
/// offset in the file. A file that ends early yields an error (`UnexpectedEof`) and stops.
pub fn chunks(
    file: File,
    start: u64,
    len: u64,
) -> impl Stream<Item = std::io::Result<(u64, Vec<u8>)>> + Send + 'static {
    struct State {
        file: File,
        pos: u64,
        end: u64,
        seeked: bool,
    }
    let state = State {
        file,
        pos: start,
        end: start.saturating_add(len),
        seeked: false,
    };
    futures::stream::try_unfold(state, |mut s| async move {
        if s.pos >= s.end {
            return Ok(None);
        }
        if !s.seeked {
            s.file.seek(SeekFrom::Start(s.pos)).await?;
            s.seeked = true;
        }
        let want = (s.end - s.pos).min(CHUNK_BYTES as u64) as usize;
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let n = s.file.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file ended at byte {}", s.pos + filled as u64),
                ));
            }
            filled += n;
        }
        let offset = s.pos;
        s.pos += want as u64;
        Ok(Some(((offset, buf), s)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[test]
    fn http_names_are_exact() {
        let cases = [
            ("snapshot.jpg", Some(MediaFile::Snapshot)),
            ("frame.jpg", Some(MediaFile::Frame)),
            ("clip.mp4", Some(MediaFile::Clip)),
            ("Clip.mp4", None),
            ("clip.MP4", None),
            ("clip.mp4.part", None),
            ("clip", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(MediaFile::from_http_name(name), want, "{name:?}");
        }
        for (f, name) in MediaFile::ALL {
            assert_eq!(f.http_name(), name);
            assert_eq!(f.url("inc-1"), format!("/media/incidents/inc-1/{name}"));
        }
    }

    #[tokio::test]
    async fn chunks_cover_the_range_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(CHUNK_BYTES * 2 + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let total = data.len() as u64;
        // (start, len) -> chunk offsets
        let cases: [(u64, u64, &[u64]); 4] = [
            (0, total, &[0, 65_536, 131_072]),
            (10, 20, &[10]),
            (total - 5, 5, &[total - 5]),
            (100, 65_536, &[100]),
        ];
        for (start, len, offsets) in cases {
            let f = File::open(&path).await.unwrap();
            let got: Vec<(u64, Vec<u8>)> = chunks(f, start, len).try_collect().await.unwrap();
            let got_offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
            assert_eq!(got_offsets, offsets, "{start}+{len}");
            let joined: Vec<u8> = got.into_iter().flat_map(|(_, d)| d).collect();
            assert_eq!(
                joined,
                &data[start as usize..(start + len) as usize],
                "{start}+{len}"
            );
        }
        // Asking beyond the end fails instead of returning a short body.
        let f = File::open(&path).await.unwrap();
        let e = chunks(f, total - 5, 10)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
