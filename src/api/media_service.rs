//! `vigil.v1.MediaService`: an incident's snapshot in one message, its clip as a stream of chunks.
//! The name is validated before anything is read; the incident log says whether the media is
//! ready (PENDING and FAILED are FAILED_PRECONDITION, EXPIRED is NOT_FOUND); the file is found
//! only through `media::paths`. Files are read with `tokio::fs` (the blocking pool), a chunk at a
//! time, so a clip is never held whole in memory; a client that goes away drops the stream, which
//! stops the reading quietly.

use std::path::PathBuf;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio::io::AsyncReadExt;
use tonic::{Request, Response, Status};

use super::incident_convert::incident_id_from_name;
use super::incident_service::read_store;
use super::media::{self, MediaFile};
use super::pb;
use super::status::to_status;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::incidents::IncidentLog;
use crate::incidents::model::{ClipState, SnapshotState};
use crate::{bail, err};

/// Snapshots are sent in one message; anything larger is refused (HTTP serves it in pieces).
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 20;

pub struct MediaApi {
    log: IncidentLog,
    data_dir: PathBuf,
}

impl MediaApi {
    pub fn new(log: IncidentLog, data_dir: PathBuf) -> Self {
        MediaApi { log, data_dir }
    }
}

/// Where a snapshot or clip is in its life, as far as serving it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Availability {
    Ready,
    Pending,
    Failed,
    Expired,
}

impl From<SnapshotState> for Availability {
    fn from(s: SnapshotState) -> Self {
        match s {
            SnapshotState::Available => Availability::Ready,
            SnapshotState::Pending => Availability::Pending,
            SnapshotState::Failed => Availability::Failed,
            SnapshotState::Expired => Availability::Expired,
        }
    }
}

impl From<ClipState> for Availability {
    fn from(s: ClipState) -> Self {
        match s {
            ClipState::Ready => Availability::Ready,
            ClipState::Pending => Availability::Pending,
            ClipState::Failed => Availability::Failed,
            ClipState::Expired => Availability::Expired,
        }
    }
}

/// Ok when the media can be served; otherwise the documented error.
fn check_ready(what: &str, name: &str, a: Availability) -> Result<()> {
    match a {
        Availability::Ready => Ok(()),
        Availability::Pending => {
            bail!(
                FailedPrecondition,
                "{what} not available yet (state PENDING)"
            )
        }
        Availability::Failed => {
            bail!(
                FailedPrecondition,
                "{what} of {name} could not be written (state FAILED)"
            )
        }
        Availability::Expired => bail!(NotFound, "{what} of {name} expired by retention"),
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::ClipChunk, Status>> + Send>>;

#[tonic::async_trait]
impl pb::media_service_server::MediaService for MediaApi {
    type DownloadClipStream = ChunkStream;

    async fn get_snapshot(
        &self,
        req: Request<pb::GetSnapshotRequest>,
    ) -> Result<Response<pb::Snapshot>, Status> {
        let r = req.into_inner();
        let id = incident_id_from_name("name", &r.name).map_err(to_status)?;
        let lookup = id.clone();
        let state = read_store(&self.log, move |s| Ok(s.get_incident(&lookup)?.snapshot)).await?;
        check_ready("snapshot", &r.name, state.into()).map_err(to_status)?;
        let which = if r.plain {
            MediaFile::Frame
        } else {
            MediaFile::Snapshot
        };
        let data = read_snapshot(&self.data_dir, &id, which)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::Snapshot {
            content_type: which.content_type().to_string(),
            data,
        }))
    }

    async fn download_clip(
        &self,
        req: Request<pb::DownloadClipRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let name = req.into_inner().name;
        let id = incident_id_from_name("name", &name).map_err(to_status)?;
        let lookup = id.clone();
        let state = read_store(&self.log, move |s| Ok(s.get_incident(&lookup)?.clip.state)).await?;
        check_ready("clip", &name, state.into()).map_err(to_status)?;
        let opened = media::open(&self.data_dir, &id, MediaFile::Clip)
            .await
            .map_err(to_status)?;
        let total_size = opened.size;
        let chunk = move |offset: u64, data: Vec<u8>| pb::ClipChunk {
            data,
            offset,
            total_size,
            content_type: MediaFile::Clip.content_type().to_string(),
        };
        if total_size == 0 {
            // Still one message, so that the client learns the size and type.
            let only = futures::stream::once(async move { Ok(chunk(0, Vec::new())) });
            return Ok(Response::new(Box::pin(only)));
        }
        let stream = media::chunks(opened.file, 0, total_size).map(move |r| match r {
            Ok((offset, data)) => Ok(chunk(offset, data)),
            Err(e) => Err(to_status(
                err!(Internal, "reading the clip of {name}").with_source(e),
            )),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

async fn read_snapshot(data_dir: &std::path::Path, id: &str, which: MediaFile) -> Result<Vec<u8>> {
    let mut opened = media::open(data_dir, id, which).await?;
    if opened.size > MAX_SNAPSHOT_BYTES {
        bail!(
            FailedPrecondition,
            "snapshot of incidents/{id} is {} bytes, more than {MAX_SNAPSHOT_BYTES} (fetch it \
             over HTTP: {})",
            opened.size,
            which.url(id)
        );
    }
    let mut data = Vec::with_capacity(opened.size as usize);
    opened.file.read_to_end(&mut data).await.ctx(
        ErrorKind::Internal,
        format!("reading snapshot of incidents/{id}"),
    )?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_the_documented_errors() {
        use crate::error::ErrorKind::*;
        let cases = [
            (Availability::Ready, None, ""),
            (
                Availability::Pending,
                Some(FailedPrecondition),
                "snapshot not available yet (state PENDING)",
            ),
            (
                Availability::Failed,
                Some(FailedPrecondition),
                "snapshot of incidents/a could not be written (state FAILED)",
            ),
            (
                Availability::Expired,
                Some(NotFound),
                "snapshot of incidents/a expired by retention",
            ),
        ];
        for (a, kind, msg) in cases {
            let got = check_ready("snapshot", "incidents/a", a).err();
            assert_eq!(got.as_ref().map(|e| e.kind()), kind, "{a:?}");
            assert_eq!(got.as_ref().map_or("", |e| e.msg()), msg, "{a:?}");
        }
    }
}
