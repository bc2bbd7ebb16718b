//! `vigil demo`: the main job in one command. Starts the service like `vigil serve` and registers
//! the demo camera (`demo/camera.toml`: the PETS 2009 campus scene with a restricted lawn) through
//! the gRPC API, exactly as an integrator would, then serves until Ctrl-C. Registering is
//! idempotent: a camera that already exists is replaced by the file's definition.

use std::path::Path;

use crate::api::client;
use crate::camera::CameraFile;
use crate::config::Settings;
use crate::error::Result;
use crate::server;

/// Where the demo camera's stream is expected.
pub struct DemoOptions<'a> {
    /// The camera file to register (`demo/camera.toml`).
    pub camera_file: &'a Path,
    /// The stream URL the camera gets.
    pub url: String,
}

/// Starts the service, registers the demo camera and serves until a signal arrives.
pub async fn run(settings: Settings, opts: DemoOptions<'_>) -> Result<()> {
    let file = CameraFile::load(opts.camera_file)?;
    let running = server::start(&settings).await?;
    let id = client::register(&running.grpc_addr.to_string(), &file, &opts.url).await?;
    println!(
        "vigil demo: serving gRPC on {} and HTTP on {}\n\
         vigil demo: camera {id:?} registered ({}); try:\n  \
         vigil cameras --server {} show {id}\n  \
         curl http://{}/metrics\n\
         vigil demo: Ctrl-C stops.",
        running.grpc_addr, running.http_addr, opts.url, running.grpc_addr, running.http_addr
    );
    running.until_signal(settings.shutdown_timeout).await
}
