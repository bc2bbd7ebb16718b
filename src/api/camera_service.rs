//! `vigil.v1.CameraService`: the camera registry over gRPC. Every request is fully validated
//! before anything is stored; store calls run on the blocking pool. After each change the
//! registry's change counter is bumped so that ingest can follow without a restart.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::convert::{self, camera_id_from_name, camera_to_pb};
use super::pb;
use super::status::to_status;
use crate::camera::{Camera, Credentials, normalize_url};
use crate::error::Result;
use crate::ingest::{CameraState, CameraStatus, StatusBoard};
use crate::store::Store;
use crate::{bail, err};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

/// The fields an update mask may name.
const UPDATABLE: &[&str] = &[
    "display_name",
    "url",
    "credentials",
    "transport",
    "enabled",
    "location",
    "analysis_fps",
    "zones",
    "lines",
    "rules",
];

pub struct CameraApi {
    store: Arc<dyn Store>,
    changes: watch::Sender<u64>,
    status: StatusBoard,
}

/// Status messages buffered per watcher; the watcher task waits (never ingest) when it is full.
const WATCH_BUFFER: usize = 16;

impl CameraApi {
    pub fn new(store: Arc<dyn Store>, changes: watch::Sender<u64>, status: StatusBoard) -> Self {
        CameraApi {
            store,
            changes,
            status,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| Status::internal(format!("store task failed: {e}")))?
            .map_err(to_status)
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }
}

/// URL and credentials from a request: credentials may come in the URL or in their own field,
/// not both.
fn url_and_credentials(
    url: &str,
    creds: Option<&pb::Credentials>,
) -> Result<(String, Option<Credentials>)> {
    let (url, in_url) = normalize_url("camera.url", url)?;
    let explicit = convert::credentials_from_pb(creds);
    if in_url.is_some() && explicit.is_some() {
        bail!(
            InvalidArgument,
            "camera.credentials: given twice (in camera.url and in camera.credentials)"
        );
    }
    Ok((url, explicit.or(in_url)))
}

fn new_camera(id: String, c: &pb::Camera) -> Result<Camera> {
    let (url, credentials) = url_and_credentials(&c.url, c.credentials.as_ref())?;
    let now = now_ms();
    let camera = Camera {
        id,
        display_name: c.display_name.clone(),
        url,
        credentials,
        transport: convert::transport_from_pb("camera.transport", c.transport)?,
        enabled: c.enabled.unwrap_or(true),
        location: convert::location_from_pb(c.location.as_ref()),
        analysis_fps: c.analysis_fps,
        analytics: convert::analytics_from_pb(c)?,
        create_time: now,
        update_time: now,
    };
    camera.validate()?;
    Ok(camera)
}

/// Applies the fields named by `paths` (all writable fields when empty) from `src` to `dst`.
fn apply_update(dst: &mut Camera, src: &pb::Camera, paths: &[String]) -> Result<()> {
    for (i, p) in paths.iter().enumerate() {
        if !UPDATABLE.contains(&p.as_str()) {
            bail!(
                InvalidArgument,
                "update_mask.paths[{i}]: {p:?} is not an updatable field (one of {})",
                UPDATABLE.join(", ")
            );
        }
    }
    let all = paths.is_empty();
    let has = |f: &str| all || paths.iter().any(|p| p == f);
    if has("url") {
        let (url, in_url) = url_and_credentials(
            &src.url,
            if has("credentials") {
                src.credentials.as_ref()
            } else {
                None
            },
        )?;
        dst.url = url;
        if in_url.is_some() || has("credentials") {
            dst.credentials = in_url;
        }
    } else if has("credentials") {
        dst.credentials = convert::credentials_from_pb(src.credentials.as_ref());
    }
    if has("display_name") {
        dst.display_name = src.display_name.clone();
    }
    if has("transport") {
        dst.transport = convert::transport_from_pb("camera.transport", src.transport)?;
    }
    if has("enabled") {
        dst.enabled = src.enabled.unwrap_or(true);
    }
    if has("location") {
        dst.location = convert::location_from_pb(src.location.as_ref());
    }
    if has("analysis_fps") {
        dst.analysis_fps = src.analysis_fps;
    }
    if has("zones") || has("lines") || has("rules") {
        let a = convert::analytics_from_pb(src)?;
        if has("zones") {
            dst.analytics.zones = a.zones;
        }
        if has("lines") {
            dst.analytics.lines = a.lines;
        }
        if has("rules") {
            dst.analytics.rules = a.rules;
        }
    }
    dst.update_time = now_ms();
    dst.validate()
}

/// The current time at the store's precision (milliseconds), so a response equals a later read.
fn now_ms() -> SystemTime {
    let since = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(since.as_millis() as u64)
}

fn random_id() -> String {
    format!("cam-{:08x}", rand::random::<u32>())
}

fn encode_page_token(last_id: &str) -> String {
    last_id.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_page_token(t: &str) -> Result<Option<String>> {
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        err!(
            InvalidArgument,
            "page_token: not a token returned by ListCameras"
        )
    };
    if !t.len().is_multiple_of(2) || t.len() > 256 {
        return Err(bad());
    }
    let bytes = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    crate::camera::validate_id("page_token", &id).map_err(|_| bad())?;
    Ok(Some(id))
}

fn status_to_pb(s: &CameraStatus) -> pb::CameraStatus {
    let state = match s.state {
        CameraState::Connecting => pb::CameraState::Connecting,
        CameraState::Streaming => pb::CameraState::Streaming,
        CameraState::Retrying => pb::CameraState::Retrying,
        CameraState::Disabled => pb::CameraState::Disabled,
    };
    pb::CameraStatus {
        name: format!("cameras/{}", s.camera),
        state: state as i32,
        last_error: s.last_error.clone(),
        next_attempt_time: s.next_attempt.map(convert::timestamp),
        input_fps: s.input_fps,
        analysis_fps: s.analysis_fps,
        frames_in: s.frames_in,
        frames_analysed: s.frames_analysed,
        frames_dropped: s.frames_dropped,
        reconnects: s.reconnects,
        last_frame_time: s.last_frame.map(convert::timestamp),
        codec: s.codec.clone(),
        width: s.width,
        height: s.height,
        analysis_error: s.analysis_error.clone(),
        line_counts: s
            .line_counts
            .iter()
            .map(|c| pb::LineCount {
                line_id: c.line_id.clone(),
                class: c.class.clone(),
                direction: match c.direction {
                    "LEFT_TO_RIGHT" => pb::CrossingDirection::LeftToRight,
                    "RIGHT_TO_LEFT" => pb::CrossingDirection::RightToLeft,
                    _ => pb::CrossingDirection::Unspecified,
                } as i32,
                count: c.count,
            })
            .collect(),
    }
}

/// Sends each watched camera's status when it differs from what this watcher last sent, until
/// the client goes away.
async fn watch_status(
    board: StatusBoard,
    ids: Vec<String>,
    tx: tokio::sync::mpsc::Sender<Result<pb::CameraStatus, Status>>,
) {
    let mut changes = board.subscribe();
    let mut sent: std::collections::HashMap<String, CameraStatus> = Default::default();
    loop {
        changes.mark_unchanged();
        for s in board.all() {
            if !ids.is_empty() && !ids.contains(&s.camera) {
                continue;
            }
            if sent.get(&s.camera) == Some(&s) {
                continue;
            }
            if tx.send(Ok(status_to_pb(&s))).await.is_err() {
                return;
            }
            sent.insert(s.camera.clone(), s);
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = tx.closed() => return,
        }
    }
}

#[tonic::async_trait]
impl pb::camera_service_server::CameraService for CameraApi {
    type WatchCameraStatusStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::CameraStatus, Status>>;

    async fn get_camera_status(
        &self,
        req: Request<pb::GetCameraStatusRequest>,
    ) -> Result<Response<pb::CameraStatus>, Status> {
        let id = camera_id_from_name("name", &req.get_ref().name).map_err(to_status)?;
        // The registry decides whether the camera exists (ingest follows it a moment later).
        let camera = self.run(move |s| s.get_camera(&id)).await?;
        if let Some(s) = self.status.get(&camera.id) {
            return Ok(Response::new(status_to_pb(&s)));
        }
        // Registered a moment ago: ingest has not picked it up yet.
        let state = if camera.enabled {
            CameraState::Connecting
        } else {
            CameraState::Disabled
        };
        Ok(Response::new(status_to_pb(&CameraStatus {
            camera: camera.id,
            state,
            ..CameraStatus::default()
        })))
    }

    async fn watch_camera_status(
        &self,
        req: Request<pb::WatchCameraStatusRequest>,
    ) -> Result<Response<Self::WatchCameraStatusStream>, Status> {
        let ids = req
            .get_ref()
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| camera_id_from_name(&format!("names[{i}]"), n))
            .collect::<Result<Vec<_>>>()
            .map_err(to_status)?;
        let (tx, rx) = tokio::sync::mpsc::channel(WATCH_BUFFER);
        tokio::spawn(watch_status(self.status.clone(), ids, tx));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn create_camera(
        &self,
        req: Request<pb::CreateCameraRequest>,
    ) -> Result<Response<pb::Camera>, Status> {
        let req = req.into_inner();
        let Some(c) = req.camera.as_ref() else {
            return Err(to_status(err!(InvalidArgument, "camera: required")));
        };
        let id = if req.camera_id.is_empty() {
            random_id()
        } else {
            req.camera_id.clone()
        };
        let camera = new_camera(id, c).map_err(to_status)?;
        let camera = self
            .run(move |s| {
                s.create_camera(&camera)?;
                Ok(camera)
            })
            .await?;
        tracing::info!(camera = %camera.id, url = %camera.redacted_url(), "camera created");
        self.changed();
        Ok(Response::new(camera_to_pb(&camera)))
    }

    async fn get_camera(
        &self,
        req: Request<pb::GetCameraRequest>,
    ) -> Result<Response<pb::Camera>, Status> {
        let id = camera_id_from_name("name", &req.get_ref().name).map_err(to_status)?;
        let camera = self.run(move |s| s.get_camera(&id)).await?;
        Ok(Response::new(camera_to_pb(&camera)))
    }

    async fn list_cameras(
        &self,
        req: Request<pb::ListCamerasRequest>,
    ) -> Result<Response<pb::ListCamerasResponse>, Status> {
        let req = req.into_inner();
        let size = match req.page_size {
            n if n < 0 => {
                return Err(to_status(err!(
                    InvalidArgument,
                    "page_size: {n} is negative"
                )));
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let after = decode_page_token(&req.page_token).map_err(to_status)?;
        // Read one extra row to learn whether another page follows.
        let mut cameras = self
            .run(move |s| s.list_cameras(after.as_deref(), size + 1))
            .await?;
        let next_page_token = if cameras.len() > size {
            cameras.truncate(size);
            cameras
                .last()
                .map(|c| encode_page_token(&c.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListCamerasResponse {
            cameras: cameras.iter().map(camera_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_camera(
        &self,
        req: Request<pb::UpdateCameraRequest>,
    ) -> Result<Response<pb::Camera>, Status> {
        let req = req.into_inner();
        let Some(src) = req.camera else {
            return Err(to_status(err!(InvalidArgument, "camera: required")));
        };
        let id = camera_id_from_name("camera.name", &src.name).map_err(to_status)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let camera = self
            .run(move |s| {
                let mut camera = s.get_camera(&id)?;
                apply_update(&mut camera, &src, &paths)?;
                s.update_camera(&camera)?;
                Ok(camera)
            })
            .await?;
        tracing::info!(camera = %camera.id, "camera updated");
        self.changed();
        Ok(Response::new(camera_to_pb(&camera)))
    }

    async fn delete_camera(
        &self,
        req: Request<pb::DeleteCameraRequest>,
    ) -> Result<Response<pb::DeleteCameraResponse>, Status> {
        let id = camera_id_from_name("name", &req.get_ref().name).map_err(to_status)?;
        let shown = id.clone();
        self.run(move |s| s.delete_camera(&id)).await?;
        tracing::info!(camera = %shown, "camera deleted");
        self.changed();
        Ok(Response::new(pb::DeleteCameraResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_roundtrip_and_reject_garbage() {
        assert_eq!(
            decode_page_token(&encode_page_token("cam-1"))
                .unwrap()
                .as_deref(),
            Some("cam-1")
        );
        for bad in ["zz", "abc", "2f2e2e"] {
            assert!(decode_page_token(bad).is_err(), "{bad}");
        }
    }
}
