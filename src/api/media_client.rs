//! The command-line client of `MediaService`: `vigil incidents clip ID [--out FILE]` and
//! `vigil incidents snapshot ID [--plain] [--out FILE]`. Nothing is created before the server has
//! accepted the request; the file is written under `FILE.part` and renamed when complete, so an
//! interrupted download never leaves a partial file under the real name.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::client::connect;
use super::incident_client::status_error;
use super::incident_convert::INCIDENT_PREFIX;
use super::media_service::MAX_SNAPSHOT_BYTES;
use super::pb;
use super::pb::media_service_client::MediaServiceClient;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::media::paths::partial_path;
use crate::{bail, err};

/// A file written as `<path>.part` and renamed to `path` by `finish`; removed if dropped before.
struct PartFile {
    path: PathBuf,
    part: PathBuf,
    file: Option<tokio::fs::File>,
}

impl PartFile {
    async fn create(path: &Path) -> Result<PartFile> {
        let part = partial_path(path);
        let file = tokio::fs::File::create(&part).await.ctx(
            ErrorKind::FailedPrecondition,
            format!("creating {}", part.display()),
        )?;
        Ok(PartFile {
            path: path.to_path_buf(),
            part,
            file: Some(file),
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            bail!(Internal, "{} is already closed", self.part.display());
        };
        f.write_all(data).await.ctx(
            ErrorKind::Internal,
            format!("writing {}", self.part.display()),
        )
    }

    async fn finish(mut self) -> Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush().await.ctx(
                ErrorKind::Internal,
                format!("writing {}", self.part.display()),
            )?;
            f.sync_all().await.ctx(
                ErrorKind::Internal,
                format!("writing {}", self.part.display()),
            )?;
        }
        tokio::fs::rename(&self.part, &self.path).await.ctx(
            ErrorKind::Internal,
            format!(
                "renaming {} to {}",
                self.part.display(),
                self.path.display()
            ),
        )?;
        self.part = PathBuf::new(); // renamed: nothing to clean up
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

async fn client(server: &str) -> Result<MediaServiceClient<tonic::transport::Channel>> {
    Ok(MediaServiceClient::new(connect(server).await?))
}

/// Downloads the clip of incident `id` to `out` (default `ID.mp4`); returns the path and size.
pub async fn download_clip(server: &str, id: &str, out: Option<PathBuf>) -> Result<(PathBuf, u64)> {
    let mut stream = client(server)
        .await?
        .download_clip(pb::DownloadClipRequest {
            name: format!("{INCIDENT_PREFIX}{id}"),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{id}.mp4")));
    let mut file: Option<PartFile> = None;
    let (mut written, mut total) = (0u64, None);
    while let Some(chunk) = stream.message().await.map_err(status_error)? {
        if chunk.offset != written || total.is_some_and(|t| t != chunk.total_size) {
            bail!(
                Internal,
                "the server sent bytes at {} of {} after {written} of {total:?}",
                chunk.offset,
                chunk.total_size
            );
        }
        total = Some(chunk.total_size);
        let f = match file.as_mut() {
            Some(f) => f,
            None => file.insert(PartFile::create(&out).await?),
        };
        f.write(&chunk.data).await?;
        written += chunk.data.len() as u64;
    }
    match (file, total) {
        (Some(f), Some(total)) if total == written => f.finish().await?,
        (_, total) => bail!(
            Unavailable,
            "the clip stream ended after {written} of {} bytes; nothing was written",
            total.map_or("?".to_string(), |t| t.to_string())
        ),
    }
    Ok((out, written))
}

/// Downloads the snapshot (or with `plain` the unannotated frame) of incident `id` to `out`
/// (default `ID.jpg`, or `ID.frame.jpg`); returns the path and size.
pub async fn download_snapshot(
    server: &str,
    id: &str,
    plain: bool,
    out: Option<PathBuf>,
) -> Result<(PathBuf, u64)> {
    // This process is only a client: let the codec accept a response as large as a snapshot.
    super::codec::set_max_message_bytes(MAX_SNAPSHOT_BYTES as usize + 1024);
    let snap = client(server)
        .await?
        .get_snapshot(pb::GetSnapshotRequest {
            name: format!("{INCIDENT_PREFIX}{id}"),
            plain,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    if snap.data.is_empty() {
        return Err(err!(Internal, "the server sent an empty snapshot"));
    }
    let out = out.unwrap_or_else(|| {
        PathBuf::from(if plain {
            format!("{id}.frame.jpg")
        } else {
            format!("{id}.jpg")
        })
    });
    let mut f = PartFile::create(&out).await?;
    f.write(&snap.data).await?;
    f.finish().await?;
    Ok((out, snap.data.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn part_files_are_renamed_when_finished_and_removed_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("a.mp4");
        let mut f = PartFile::create(&done).await.unwrap();
        f.write(b"abc").await.unwrap();
        assert!(dir.path().join("a.mp4.part").is_file());
        assert!(!done.exists(), "not under the real name before finish");
        f.finish().await.unwrap();
        assert_eq!(std::fs::read(&done).unwrap(), b"abc");
        assert!(!dir.path().join("a.mp4.part").exists());

        let dropped = dir.path().join("b.mp4");
        let mut f = PartFile::create(&dropped).await.unwrap();
        f.write(b"abc").await.unwrap();
        drop(f);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.mp4"], "an unfinished download leaves nothing");
    }
}
