//! Cameras registered through the gRPC API stream without a restart: the service follows the
//! registry, the camera's status is visible through GetCameraStatus, WatchCameraStatus and
//! `/metrics`, detection results arrive (the real detector), and disabling or deleting the
//! camera stops its ingest. Without a loadable model the service still starts and streams, and
//! the status says why analysis is unavailable.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::camera_service_client::CameraServiceClient;
use vigil::config::{Config, Overrides};
use vigil::ingest::{IngestConfig, TestCam, TestCamOptions};
use vigil::server::{self, Running};

async fn serve(model: &str) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        ingest: IngestConfig {
            backoff_min_s: 0.2,
            backoff_max_s: 1.0,
            ..IngestConfig::default()
        },
        ..Config::default()
    };
    config.detect.model = model.into();
    let settings = config
        .resolve(Overrides {
            grpc_addr: Some("127.0.0.1:0".into()),
            http_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            log_format: None,
        })
        .unwrap();
    (server::start(&settings).await.unwrap(), dir)
}

async fn client(r: &Running) -> CameraServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    CameraServiceClient::new(ch)
}

async fn status(
    c: &mut CameraServiceClient<Channel>,
    id: &str,
) -> Result<pb::CameraStatus, tonic::Status> {
    c.get_camera_status(pb::GetCameraStatusRequest {
        name: format!("cameras/{id}"),
    })
    .await
    .map(|r| r.into_inner())
}

/// Polls the status until `ok` holds; panics with the last one after `timeout`.
async fn until(
    c: &mut CameraServiceClient<Channel>,
    id: &str,
    timeout: Duration,
    ok: impl Fn(&pb::CameraStatus) -> bool,
) -> pb::CameraStatus {
    let t0 = Instant::now();
    loop {
        let s = status(c, id).await.unwrap();
        if ok(&s) {
            return s;
        }
        assert!(t0.elapsed() < timeout, "{id}: last status {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

async fn create(c: &mut CameraServiceClient<Channel>, id: &str, url: &str) {
    c.create_camera(pb::CreateCameraRequest {
        camera_id: id.into(),
        camera: Some(pb::Camera {
            url: url.into(),
            analysis_fps: 5.0,
            ..Default::default()
        }),
    })
    .await
    .unwrap();
}

const STREAMING: i32 = pb::CameraState::Streaming as i32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_camera_streams_is_analysed_and_stops_when_disabled() {
    let Some(file) = common::vtest_avi() else {
        return;
    };
    let cam = TestCam::start(&TestCamOptions::new(&file)).unwrap();
    let (running, _dir) = serve(vigil::detect::config::DEFAULT_MODEL).await;
    if let Some(why) = &running.detection_error {
        common::skip::<()>(&format!("the detector cannot load: {why}"));
        return;
    }
    let mut c = client(&running).await;
    let mut watch = c
        .watch_camera_status(pb::WatchCameraStatusRequest {
            names: vec!["cameras/gate".into()],
        })
        .await
        .unwrap()
        .into_inner();
    create(&mut c, "gate", &cam.url()).await;
    // The watcher sees the camera come up.
    let watched = tokio::time::timeout(Duration::from_secs(60), async {
        let mut states = Vec::new();
        while let Some(s) = watch.message().await.unwrap() {
            assert_eq!(s.name, "cameras/gate");
            states.push(s.state);
            if s.state == STREAMING {
                break;
            }
        }
        states
    })
    .await
    .expect("no STREAMING on WatchCameraStatus");
    assert_eq!(watched.last(), Some(&STREAMING), "{watched:?}");
    let s = until(&mut c, "gate", Duration::from_secs(90), |s| {
        s.frames_analysed >= 5 && s.analysis_fps > 0.0
    })
    .await;
    assert_eq!(
        (s.codec.as_str(), s.width, s.height),
        ("H264", 768, 576),
        "{s:?}"
    );
    assert!(s.input_fps > 0.0 && s.last_frame_time.is_some(), "{s:?}");
    assert!(s.analysis_error.is_empty(), "{s:?}");
    let metrics = http_get(running.http_addr, "/metrics").await;
    for needle in [
        "vigil_ingest_frames_total{camera=\"gate\"}",
        "vigil_ingest_frames_analysed_total{camera=\"gate\"}",
        "vigil_ingest_reconnects_total{camera=\"gate\"} 0",
        "vigil_ingest_state{camera=\"gate\"} 2",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from /metrics");
    }
    // A new URL restarts the ingest on the new camera, without a service restart: the old
    // camera can then go away without the camera noticing.
    let cam2 = TestCam::start(&TestCamOptions::new(&file)).unwrap();
    c.update_camera(pb::UpdateCameraRequest {
        camera: Some(pb::Camera {
            name: "cameras/gate".into(),
            url: cam2.url(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["url".into()],
        }),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cam.stop();
    let before = until(&mut c, "gate", Duration::from_secs(60), |s| {
        s.state == STREAMING
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = status(&mut c, "gate").await.unwrap();
    assert_eq!(after.state, STREAMING, "{after:?}");
    assert_eq!(after.reconnects, 0, "{after:?}");
    assert!(after.frames_in > before.frames_in, "{before:?} {after:?}");
    // Disabled: ingest stops.
    c.update_camera(pb::UpdateCameraRequest {
        camera: Some(pb::Camera {
            name: "cameras/gate".into(),
            enabled: Some(false),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["enabled".into()],
        }),
    })
    .await
    .unwrap();
    until(&mut c, "gate", Duration::from_secs(30), |s| {
        s.state == pb::CameraState::Disabled as i32
    })
    .await;
    // Deleted: no status any more.
    c.delete_camera(pb::DeleteCameraRequest {
        name: "cameras/gate".into(),
    })
    .await
    .unwrap();
    let e = status(&mut c, "gate").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    running.shutdown(Duration::from_secs(20)).await.unwrap();
    cam2.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_without_a_detector_and_says_why() {
    let Some(file) = common::vtest_avi() else {
        return;
    };
    let cam = TestCam::start(&TestCamOptions::new(&file)).unwrap();
    let (running, _dir) = serve("no-such-model").await;
    let why = running
        .detection_error
        .clone()
        .expect("detection cannot run without a model");
    assert!(why.contains("no-such-model"), "{why}");
    let mut c = client(&running).await;
    create(&mut c, "lonely", &cam.url()).await;
    let s = until(&mut c, "lonely", Duration::from_secs(60), |s| {
        s.state == STREAMING && s.frames_in > 0
    })
    .await;
    assert!(s.analysis_error.contains("detection unavailable"), "{s:?}");
    assert_eq!(s.frames_analysed, 0);
    let e = status(&mut c, "nobody").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    running.shutdown(Duration::from_secs(20)).await.unwrap();
    cam.stop();
}
