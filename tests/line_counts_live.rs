//! Line-crossing counts live, queryable over gRPC: the test camera serves the urban motorbikes
//! clip over RTSP, a camera with a counting line across the street (`tests/cameras/motorbikes.toml`)
//! is registered through `CameraService`, and `GetCameraStatus` reports motorcycles crossing the
//! line in the direction the traffic goes (away from the camera), none the other way round, and
//! the same totals as the Prometheus metric `vigil_line_crossings_total`.
//!
//! Needs the shared clip (loud skip outside CI).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::camera_service_client::CameraServiceClient;
use vigil::camera::CameraFile;
use vigil::ingest::testcam::{TestCam, TestCamOptions};

const WAIT: Duration = Duration::from_secs(180);

/// `GET /metrics` from the HTTP listener.
async fn metrics(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_in_the_camera_status_and_the_metrics() {
    let Some(clip) = common::shared("media/traffic_urban_motorbikes_degirum.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = vigil::server::start(&common::loopback(dir.path()))
        .await
        .unwrap();
    assert!(running.detection_error.is_none());
    let cam = tokio::task::spawn_blocking(move || TestCam::start(&TestCamOptions::new(&clip)))
        .await
        .unwrap()
        .unwrap();
    let server = running.grpc_addr.to_string();
    let file = CameraFile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cameras/motorbikes.toml"),
    )
    .unwrap();
    let id = vigil::api::client::register(&server, &file, &cam.url())
        .await
        .unwrap();
    let channel = Channel::from_shared(format!("http://{server}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = CameraServiceClient::new(channel);

    // Wait until a few motorcycles have crossed.
    let t0 = Instant::now();
    let status = loop {
        let s = client
            .get_camera_status(pb::GetCameraStatusRequest {
                name: format!("cameras/{id}"),
            })
            .await
            .unwrap()
            .into_inner();
        let motorcycles: u64 = s
            .line_counts
            .iter()
            .filter(|c| c.class == "motorcycle")
            .map(|c| c.count)
            .sum();
        if motorcycles >= 3 {
            break s;
        }
        assert!(t0.elapsed() < WAIT, "no motorcycles counted: {s:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for c in &status.line_counts {
        assert_eq!(c.line_id, "street", "{c:?}");
        assert_ne!(c.direction, pb::CrossingDirection::Unspecified as i32);
    }
    // The traffic moves up the frame, away from the camera: with the line drawn left to right,
    // that is RIGHT_TO_LEFT.
    let away: u64 = status
        .line_counts
        .iter()
        .filter(|c| c.direction == pb::CrossingDirection::RightToLeft as i32)
        .map(|c| c.count)
        .sum();
    let total: u64 = status.line_counts.iter().map(|c| c.count).sum();
    assert!(away * 10 >= total * 8, "most crossings go away: {status:?}");

    // The metric says at least as much (it may have counted more since).
    let text = metrics(running.http_addr).await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("vigil_line_crossings_total")
                && l.contains("class=\"motorcycle\"")
                && l.contains("direction=\"RIGHT_TO_LEFT\"")
        })
        .unwrap_or_else(|| panic!("no motorcycle metric in:\n{text}"));
    let metric: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let status_n = status
        .line_counts
        .iter()
        .find(|c| {
            c.class == "motorcycle" && c.direction == pb::CrossingDirection::RightToLeft as i32
        })
        .map_or(0, |c| c.count);
    assert!(
        metric >= status_n as f64,
        "metric {metric} < status {status_n}"
    );

    cam.stop();
    running.shutdown(Duration::from_secs(10)).await.unwrap();
}
