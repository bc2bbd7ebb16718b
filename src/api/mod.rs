//! The service's network surface: the tonic services of `vigil.v1` (with gRPC health checking and
//! server reflection), the HTTP listener, and the command-line client. This is the only module that
//! sees protobuf types; it reads the store and never touches GStreamer or ONNX Runtime.

pub mod camera_service;
pub mod client;
pub mod codec;
pub mod convert;
pub mod http;
pub mod http_media;
pub mod incident_client;
pub mod incident_convert;
pub mod incident_service;
pub mod media;
pub mod media_client;
pub mod media_service;
pub mod status;

/// The generated types and services of `proto/vigil/v1`.
#[allow(clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("vigil.v1");
}

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

use crate::error::{ErrorKind, Result, ResultExt};
use crate::metrics::Metrics;
use crate::store::Store;

/// What the gRPC services need.
pub struct ApiDeps {
    pub store: Arc<dyn Store>,
    /// Bumped after every change to the camera registry.
    pub camera_changes: watch::Sender<u64>,
    /// The incident log (subscriptions, queries, review).
    pub incidents: crate::incidents::IncidentLog,
    /// Live ingest status of every camera.
    pub status: crate::ingest::StatusBoard,
    /// The data directory, whose `media/` the media service reads.
    pub data_dir: PathBuf,
}

/// Serves gRPC on `listener` until `shutdown` completes.
pub async fn serve_grpc(
    listener: TcpListener,
    deps: ApiDeps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let cameras = pb::camera_service_server::CameraServiceServer::new(
        camera_service::CameraApi::new(deps.store, deps.camera_changes, deps.status),
    );
    let media = pb::media_service_server::MediaServiceServer::new(media_service::MediaApi::new(
        deps.incidents.clone(),
        deps.data_dir,
    ));
    let incidents = pb::incident_service_server::IncidentServiceServer::new(
        incident_service::IncidentApi::new(deps.incidents),
    );
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<pb::camera_service_server::CameraServiceServer<camera_service::CameraApi>>()
        .await;
    health_reporter
        .set_serving::<pb::incident_service_server::IncidentServiceServer<
            incident_service::IncidentApi,
        >>()
        .await;
    health_reporter
        .set_serving::<pb::media_service_server::MediaServiceServer<media_service::MediaApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(codec::DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .ctx(ErrorKind::Internal, "building reflection service")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(codec::DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .ctx(ErrorKind::Internal, "building reflection service")?;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(cameras)
        .add_service(incidents)
        .add_service(media)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .ctx(ErrorKind::Internal, "gRPC server failed")
}

/// Serves HTTP (health, metrics, the media under `data_dir`) on `listener` until `shutdown`
/// completes.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Metrics,
    data_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, http::router(metrics, data_dir))
        .with_graceful_shutdown(shutdown)
        .await
        .ctx(ErrorKind::Internal, "HTTP server failed")
}
