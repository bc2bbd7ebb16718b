//! `vigil demo`: the main job in one command. Transcodes Debian's PETS 2009 clip (`vtest.avi`)
//! once to H.264 in the data directory, serves it in a loop from the built-in test camera over
//! RTSP on loopback, starts the service like `vigil serve`, registers the demo camera
//! (`demo/camera.toml`: zones and rules drawn for that scene) through the gRPC API exactly as an
//! integrator would, and prints incidents as they are committed, with their snapshot and clip,
//! plus a status line, until Ctrl-C or `--duration`. Registering is idempotent: a camera that
//! already exists is replaced by the file's definition.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::api::client;
use crate::camera::CameraFile;
use crate::config::Settings;
use crate::error::Result;
use crate::incidents::Filter;
use crate::incidents::model::{ClipState, EventType, IncidentEvent, SnapshotState};
use crate::ingest::StatusBoard;
use crate::ingest::testcam::{TestCam, TestCamOptions};
use crate::media::paths;
use crate::server::{self, Running};

/// Debian `opencv-doc`'s surveillance clip (PETS 2009, University of Reading).
pub const VTEST_AVI: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

/// How often the status line is printed.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// What the demo runs.
pub struct DemoOptions {
    /// The camera file to register (`demo/camera.toml`).
    pub camera_file: PathBuf,
    /// A camera URL to use instead of the built-in test camera.
    pub url: Option<String>,
    /// The clip the test camera serves (default: [`VTEST_AVI`], transcoded once).
    pub clip: PathBuf,
    /// Stop after this long (default: until Ctrl-C).
    pub duration: Option<Duration>,
}

/// Totals printed at the end (and checked by the smoke test).
#[derive(Debug, Default)]
pub struct DemoTotals {
    pub incidents: usize,
    pub snapshots: usize,
    pub clips: usize,
}

/// The clip the test camera serves: MP4s as they are, anything else transcoded once to H.264
/// under the data directory.
async fn demo_clip(clip: &Path, data_dir: &Path) -> Result<PathBuf> {
    if clip.extension().is_some_and(|e| e == "mp4" || e == "mov") {
        return Ok(clip.to_path_buf());
    }
    let stem = clip.file_stem().and_then(|s| s.to_str()).unwrap_or("clip");
    let out = data_dir.join("demo").join(format!("{stem}.mp4"));
    if out.is_file() {
        return Ok(out);
    }
    println!(
        "vigil demo: transcoding {} to H.264 once ({})...",
        clip.display(),
        out.display()
    );
    let (src, dst) = (clip.to_path_buf(), out.clone());
    tokio::task::spawn_blocking(move || crate::media::transcode::to_h264_mp4(&src, &dst))
        .await
        .map_err(|e| crate::err!(Internal, "transcoding task failed: {e}"))??;
    Ok(out)
}

/// Runs the demo until a signal arrives or `duration` passes.
pub async fn run(settings: Settings, opts: DemoOptions) -> Result<DemoTotals> {
    let file = CameraFile::load(&opts.camera_file)?;
    let (_cam, url) = match &opts.url {
        Some(u) => (None, u.clone()),
        None => {
            let clip = demo_clip(&opts.clip, &settings.data_dir).await?;
            let mut o = TestCamOptions::new(clip);
            o.path = "/demo".into();
            let cam = tokio::task::spawn_blocking(move || TestCam::start(&o))
                .await
                .map_err(|e| crate::err!(Internal, "test camera task failed: {e}"))??;
            let url = cam.url();
            (Some(cam), url)
        }
    };
    let running = server::start(&settings).await?;
    let after = {
        let store = running.incidents.store().clone();
        tokio::task::spawn_blocking(move || store.last_incident_sequence())
            .await
            .map_err(|e| crate::err!(Internal, "store task failed: {e}"))??
    };
    let (tx, rx) = mpsc::channel(64);
    let log = running.incidents.clone();
    let follower = tokio::spawn(async move { log.follow(after, Filter::default(), tx).await });
    let id = client::register(&running.grpc_addr.to_string(), &file, &url).await?;
    print_banner(&running, &id, &url);
    if let Some(why) = &running.detection_error {
        println!("vigil demo: WARNING: {why}; run scripts/setup (make demo does) to install it");
    }
    let totals = watch(&running, &settings.data_dir, rx, opts.duration).await;
    follower.abort();
    println!(
        "vigil demo: {} incidents, {} snapshots, {} clips; stopping",
        totals.incidents, totals.snapshots, totals.clips
    );
    running.shutdown(settings.shutdown_timeout).await?;
    Ok(totals)
}

fn print_banner(r: &Running, id: &str, url: &str) {
    println!(
        "vigil demo: gRPC on {g} (reflection on), HTTP on {h}\n\
         vigil demo: camera {id:?} streams {url}\n\
         vigil demo: in another terminal:\n  \
         vigil incidents --server {g} watch\n  \
         vigil cameras --server {g} show {id}\n  \
         grpcurl -plaintext {g} list\n  \
         curl http://{h}/metrics\n\
         vigil demo: incidents appear below (Ctrl-C stops)",
        g = r.grpc_addr,
        h = r.http_addr,
    );
}

fn status_line(board: &StatusBoard, incidents: usize) -> String {
    let all = board.all();
    let (fps_in, fps_an, dropped) = all.iter().fold((0.0, 0.0, 0), |(a, b, c), s| {
        (a + s.input_fps, b + s.analysis_fps, c + s.frames_dropped)
    });
    let states: Vec<String> = all
        .iter()
        .map(|s| format!("{} {}", s.camera, s.state.as_str()))
        .collect();
    format!(
        "status: {} camera(s) [{}], input {fps_in:.1} fps, analysis {fps_an:.1} fps, {dropped} dropped, {incidents} incidents",
        all.len(),
        states.join(", "),
    )
}

/// Prints events and status until `duration` or a signal.
async fn watch(
    r: &Running,
    data_dir: &Path,
    mut rx: mpsc::Receiver<Result<Arc<IncidentEvent>>>,
    duration: Option<Duration>,
) -> DemoTotals {
    let mut totals = DemoTotals::default();
    let mut seen_media: HashSet<(String, bool)> = HashSet::new();
    let deadline = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let signal = server::shutdown_signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(STATUS_EVERY);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = &mut signal => break,
            _ = tick.tick() => println!("{}", status_line(&r.status, totals.incidents)),
            ev = rx.recv() => match ev {
                Some(Ok(ev)) => print_event(&ev, r, data_dir, &mut totals, &mut seen_media),
                Some(Err(e)) => {
                    println!("vigil demo: incident stream ended: {e}");
                    break;
                }
                None => break,
            },
        }
    }
    totals
}

fn clock(t: SystemTime) -> String {
    let s = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
        % 86400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

fn print_event(
    ev: &IncidentEvent,
    r: &Running,
    data_dir: &Path,
    totals: &mut DemoTotals,
    seen_media: &mut HashSet<(String, bool)>,
) {
    let i = &ev.incident;
    let head = format!(
        "{} #{} {} {} {} zone {:?}",
        clock(ev.time),
        ev.sequence,
        ev.event_type.as_str(),
        i.kind.as_str(),
        i.id,
        i.zone_id
    );
    match ev.event_type {
        EventType::Opened => {
            totals.incidents += 1;
            println!("{head}: {} (since {})", i.summary, clock(i.start_time));
        }
        EventType::Closed => println!("{head}: {}", i.summary),
        EventType::Media => {
            if i.snapshot == SnapshotState::Available && seen_media.insert((i.id.clone(), false)) {
                totals.snapshots += 1;
                let path = paths::snapshot_path(data_dir, &i.id, true)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                println!("{head}: snapshot {path}");
            }
            if i.clip.state == ClipState::Ready && seen_media.insert((i.id.clone(), true)) {
                totals.clips += 1;
                println!(
                    "{head}: clip http://{}/media/incidents/{}/clip.mp4",
                    r.http_addr, i.id
                );
            }
        }
        _ => {}
    }
}
