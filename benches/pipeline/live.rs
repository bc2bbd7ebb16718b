//! The live half: the whole service (`server::start`, in this process) analysing N cameras at
//! 5 analysis fps, each a real-time RTSP stream of the clip (copies in one file, see
//! [`long_clip`]) from the test camera (`vigil testcam`, a child process, so that its memory is
//! not the service's; its CPU counts as own), registered through the
//! gRPC API with an INTRUSION rule on a zone covering the whole frame, incidents followed through
//! a gRPC `IncidentService.Subscribe` stream.
//!
//! A load is sustained when, after a warm-up (longer than the pre-roll, so every ring is full),
//! no analysis frame is dropped during the window and every camera decodes and analyses at least
//! 95 % of its nominal rates. The search starts at 90 % of the limit computed from the decode and
//! inference costs measured offline and walks up or down one camera count at a time; twice the
//! capacity then shows frames dropped instead of queued; a long run at the capacity gives memory
//! per camera and its drift.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::camera_service_client::CameraServiceClient;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::config::{Config, Overrides};
use vigil::ingest::{CameraState, CameraStatus};
use vigil::server::{self, Running};

use super::Args;
use super::offline::{Decode, Inference, detector_config, launch, percentile, play_to_end, quoted};
use super::sys::{self, CpuMeter, CpuUse};

/// Analysis frames a second of every live camera.
const ANALYSIS_FPS: f64 = 5.0;
/// Search trials before the capacity is taken as found, and while no load was sustained yet.
const MAX_TRIALS: usize = 3;
const MAX_TRIALS_NONE_SUSTAINED: usize = 6;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Trial {
    pub cameras: usize,
    pub window_s: f64,
    pub frames_in: u64,
    pub frames_analysed: u64,
    pub frames_dropped: u64,
    /// The slowest camera's decoded and analysed frames a second over the window (least-squares
    /// fit of its counters, sampled every 2 s, or 10 s in windows over 2 minutes).
    pub min_input_fps: f64,
    pub min_analysis_fps: f64,
    pub sustained: bool,
    /// Process RSS with the detector loaded and no camera, with one camera warmed up, and at
    /// the end of the window; per camera = (end - one camera) / (cameras - 1).
    pub rss_idle_mb: f64,
    pub rss_one_mb: f64,
    pub rss_mb: f64,
    pub rss_per_camera_mb: f64,
    /// (seconds into the window, RSS MB) every few seconds.
    pub rss_samples: Vec<(f64, f64)>,
    /// Least-squares slope of the samples.
    pub rss_slope_mb_per_min: f64,
    pub cpu: CpuUse,
    /// The scheduler's histograms over the trial (warm-up included), all cameras together:
    /// detection of one frame (letterbox, inference, decoding) and a frame's wait for a worker.
    pub detect: Histo,
    pub queue_wait: Histo,
    pub incidents_opened: u64,
    /// Capture-to-incident latency (frame arrival to the OPENED event at the subscriber).
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_note: String,
}

/// A Prometheus histogram summed over cameras.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Histo {
    pub count: u64,
    pub mean_ms: f64,
    /// Upper bound of the bucket holding the 99th percentile (infinite past the last bucket).
    pub p99_le_ms: f64,
}

impl Histo {
    /// `name` (without the `vigil_` prefix) from the service's registry.
    fn gather(metrics: &vigil::metrics::Metrics, name: &str) -> Histo {
        let mut count = 0;
        let mut sum = 0.0;
        let mut buckets: Vec<(f64, u64)> = Vec::new();
        for fam in metrics.registry().gather() {
            if !fam.name().ends_with(name) {
                continue;
            }
            for m in fam.get_metric() {
                let h = m.get_histogram();
                count += h.get_sample_count();
                sum += h.get_sample_sum();
                for (i, b) in h.get_bucket().iter().enumerate() {
                    if buckets.len() <= i {
                        buckets.push((b.upper_bound(), 0));
                    }
                    buckets[i].1 += b.cumulative_count();
                }
            }
        }
        let want = (count as f64 * 0.99).ceil() as u64;
        let p99 = buckets
            .iter()
            .find(|b| b.1 >= want)
            .map_or(f64::INFINITY, |b| b.0 * 1e3);
        Histo {
            count,
            mean_ms: if count == 0 {
                0.0
            } else {
                sum * 1e3 / count as f64
            },
            p99_le_ms: p99,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Live {
    /// Cameras the decode and inference costs allow: cores / (clip fps x decode CPU a frame +
    /// 5 x inference CPU).
    pub computed_limit: f64,
    pub trials: Vec<Trial>,
    /// The most cameras sustained (None: not even the smallest load tried).
    pub capacity: Option<usize>,
    pub overload: Option<Trial>,
    pub memory: Option<Trial>,
}

impl Live {
    pub fn print_rows(&self) {
        println!(
            "| live: limit from decode + inference | {:.1} cameras | |",
            self.computed_limit
        );
        for t in &self.trials {
            println!(
                "| live {} cameras, {:.0} s | {} | {:.2} cores |",
                t.cameras,
                t.window_s,
                t.summary(),
                t.cpu.foreign_cores
            );
        }
        match self.capacity {
            Some(c) => println!(
                "| live capacity | {c} cameras ({:.0} % of the computed limit) | |",
                100.0 * c as f64 / self.computed_limit.max(1e-9)
            ),
            None => println!("| live capacity | not found | |"),
        }
        if let Some(t) = &self.overload {
            println!(
                "| live 2x capacity: {} cameras, {:.0} s | {} | {:.2} cores |",
                t.cameras,
                t.window_s,
                t.summary(),
                t.cpu.foreign_cores
            );
        }
        if let Some(t) = &self.memory {
            println!(
                "| memory at capacity, {} cameras, {:.0} s | {:.1} MB RSS (idle {:.1} MB, one camera {:.1} MB), {:.1} MB per further camera incl. pre-roll; drift {:+.2} MB/min; {} | {:.2} cores |",
                t.cameras,
                t.window_s,
                t.rss_mb,
                t.rss_idle_mb,
                t.rss_one_mb,
                t.rss_per_camera_mb,
                t.rss_slope_mb_per_min,
                t.summary(),
                t.cpu.foreign_cores
            );
        }
    }
}

impl Trial {
    fn summary(&self) -> String {
        let lat = match (self.latency_p50_ms, self.latency_p99_ms) {
            (Some(a), Some(b)) => format!("latency p50 {a:.0} ms p99 {b:.0} ms"),
            _ => format!("latency n/a ({})", self.latency_note),
        };
        format!(
            "{}: {} in, {} analysed, {} dropped; slowest camera {:.2} fps in, {:.2} analysed; detection {:.1} ms, wait for a worker {:.1} ms (p99 <= {:.0} ms); {} incidents; {lat}; {:.1} MB/camera",
            if self.sustained {
                "SUSTAINED"
            } else {
                "FALLS BEHIND"
            },
            self.frames_in,
            self.frames_analysed,
            self.frames_dropped,
            self.min_input_fps,
            self.min_analysis_fps,
            self.detect.mean_ms,
            self.queue_wait.mean_ms,
            self.queue_wait.p99_le_ms,
            self.incidents_opened,
            self.rss_per_camera_mb
        )
    }
}

/// Copies of the clip one concatenation joins.
const LOOPS: usize = 8;

/// The clip `LOOPS` times over into one MP4 in `dir` (stream copy, no re-encode), and that
/// again until the file lasts at least `secs` (taking the clip as 10 s at least). The test
/// camera's stream ends at the end of its file and every camera reconnects (see the test
/// camera's loop limit in README); at 11 s a loop that would cost 10 % of the frames and hide
/// what the service itself does. The capacity trials fit in 8 loops (89 s of the motorway
/// clip); the memory run gets a file longer than itself, so that it measures a steady state.
fn long_clip(clip: &std::path::Path, dir: &std::path::Path, secs: f64) -> Result<PathBuf, String> {
    vigil::ingest::init().map_err(|e| e.to_string())?;
    let eight = concat(clip, &dir.join("long8.mp4"), LOOPS)?;
    let copies = (secs / (10.0 * LOOPS as f64)).ceil().max(1.0) as usize;
    if copies == 1 {
        return Ok(eight);
    }
    concat(&eight, &dir.join("long.mp4"), copies)
}

/// `n` copies of the H.264 MP4 `clip` into `out`.
fn concat(clip: &std::path::Path, out: &std::path::Path, n: usize) -> Result<PathBuf, String> {
    let mut line = format!(
        "concat name=c ! h264parse ! mp4mux ! filesink location=\"{}\"",
        quoted(out)
    );
    for _ in 0..n {
        line += &format!(
            " filesrc location=\"{}\" ! qtdemux ! h264parse ! c.",
            quoted(clip)
        );
    }
    let what = "concatenating the clip (H.264 MP4 only)";
    play_to_end(&launch(&line, what)?, what, 300)?;
    Ok(out.to_path_buf())
}

/// The test camera in a child process; killed (by its pid) on drop.
struct CamProcess {
    child: Child,
    url: String,
}

impl CamProcess {
    fn start(clip: &std::path::Path) -> Result<CamProcess, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("testcam")
            .arg(clip)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting vigil testcam: {e}"))?;
        let stdout = child.stdout.take().ok_or("vigil testcam: no stdout")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let url = line.trim().to_string();
        if read.is_err() || !url.starts_with("rtsp://") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("vigil testcam printed {line:?}"));
        }
        Ok(CamProcess { child, url })
    }
}

impl Drop for CamProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(args: &Args, dir: &std::path::Path) -> Result<Running, String> {
    let config = Config {
        detect: vigil::detect::DetectorConfig {
            workers: args.workers,
            ..detector_config(args)
        },
        ..Config::default()
    };
    let settings = config
        .resolve(Overrides {
            grpc_addr: Some("127.0.0.1:0".into()),
            http_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.to_path_buf()),
            log_format: None,
        })
        .map_err(|e| e.to_string())?;
    let running = server::start(&settings).await.map_err(|e| e.to_string())?;
    if let Some(why) = &running.detection_error {
        return Err(format!("the detector cannot load: {why}"));
    }
    Ok(running)
}

/// The class the clip's intrusion rule watches.
fn rule_class(args: &Args) -> &'static str {
    let name = args.clip.to_string_lossy().to_ascii_lowercase();
    if name.contains("pedestrian") || name.contains("pets") || name.contains("vtest") {
        "person"
    } else {
        "car"
    }
}

fn camera(url: &str, class: &str) -> pb::Camera {
    let corner = |x: f64, y: f64| pb::Point { x, y };
    pb::Camera {
        url: url.into(),
        analysis_fps: ANALYSIS_FPS,
        zones: vec![
            pb::Zone {
                id: "all".into(),
                display_name: "the whole frame".into(),
                polygon: vec![
                    corner(0.0, 0.0),
                    corner(1.0, 0.0),
                    corner(1.0, 1.0),
                    corner(0.0, 1.0),
                ],
            },
            pb::Zone {
                id: "strip".into(),
                display_name: "a vertical strip in the middle".into(),
                polygon: vec![
                    corner(0.45, 0.0),
                    corner(0.55, 0.0),
                    corner(0.55, 1.0),
                    corner(0.45, 1.0),
                ],
            },
        ],
        rules: vec![
            pb::Rule {
                id: "intrusion".into(),
                kind: pb::IncidentKind::Intrusion as i32,
                zone_id: "all".into(),
                classes: vec![class.into()],
                ..Default::default()
            },
            // Allowed direction: up the frame, in a strip a tenth of the frame wide: each vehicle
            // driving down through it opens its own incident (with snapshot and clip), a few a
            // minute per camera on the motorway clip: the latency samples.
            pb::Rule {
                id: "wrong-way".into(),
                kind: pb::IncidentKind::WrongWay as i32,
                zone_id: "strip".into(),
                params: [("dx".to_string(), 0.0), ("dy".to_string(), -1.0)].into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// When the frame that opened `incident` reached vigil (`Incident.detect_time`).
fn detect_time(incident: &pb::Incident) -> Option<SystemTime> {
    let t = incident.detect_time.as_ref()?;
    let (s, n) = (u64::try_from(t.seconds).ok()?, u32::try_from(t.nanos).ok()?);
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::new(s, n))
}

const LATENCY_NOTE: &str = "OPENED events without detect_time";

/// Capture-to-incident latencies of OPENED events, and how many there were.
#[derive(Default)]
struct Incidents {
    opened: u64,
    latencies_ms: Vec<f64>,
    counting: bool,
}

async fn follow(addr: std::net::SocketAddr, into: Arc<Mutex<Incidents>>) -> Result<(), String> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = IncidentServiceClient::new(ch)
        .subscribe(pb::SubscribeRequest::default())
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    while let Ok(Some(ev)) = stream.message().await {
        let received = SystemTime::now();
        if ev.r#type != pb::IncidentEventType::Opened as i32 {
            continue;
        }
        let Ok(mut s) = into.lock() else {
            break;
        };
        if !s.counting {
            continue;
        }
        s.opened += 1;
        if let Some(t) = ev.incident.as_ref().and_then(detect_time)
            && let Ok(d) = received.duration_since(t)
        {
            s.latencies_ms.push(d.as_secs_f64() * 1e3);
        }
    }
    Ok(())
}

fn totals(all: &[CameraStatus]) -> (u64, u64, u64) {
    all.iter().fold((0, 0, 0), |(i, a, d), s| {
        (i + s.frames_in, a + s.frames_analysed, d + s.frames_dropped)
    })
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Least-squares slope of `(x, y)` points (0 with fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// One load: a fresh service, `n` cameras, a warm-up, then `window` measured.
async fn trial(
    args: &Args,
    cam: &CamProcess,
    clip_fps: f64,
    n: usize,
    window: Duration,
) -> Result<Trial, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let running = serve(args, dir.path()).await?;
    let result = measure(args, cam, clip_fps, n, window, &running).await;
    let _ = running.shutdown(Duration::from_secs(15)).await;
    result
}

async fn measure(
    args: &Args,
    cam: &CamProcess,
    clip_fps: f64,
    n: usize,
    window: Duration,
    running: &Running,
) -> Result<Trial, String> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = sys::rss_bytes("self");
    let incidents = Arc::new(Mutex::new(Incidents::default()));
    let follower = tokio::spawn(follow(running.grpc_addr, incidents.clone()));
    let ch = Channel::from_shared(format!("http://{}", running.grpc_addr))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut client = CameraServiceClient::new(ch);
    let class = rule_class(args);
    let warmup = Duration::from_secs_f64(if args.quick { 3.0 } else { 12.0 });
    // One camera first, warmed up (detector arenas allocated, its pre-roll ring full): memory
    // per camera is what the others add to that.
    let mut rss_one = rss_idle;
    for (from, to) in [(0, 1), (1, n)] {
        for i in from..to {
            client
                .create_camera(pb::CreateCameraRequest {
                    camera_id: format!("cam-{i:03}"),
                    camera: Some(camera(&cam.url, class)),
                })
                .await
                .map_err(|e| format!("registering camera {i}: {e}"))?;
        }
        // Every camera streaming and analysed once, then the warm-up (longer than the pre-roll).
        let t0 = Instant::now();
        loop {
            let up = running
                .status
                .all()
                .iter()
                .filter(|s| s.state == CameraState::Streaming && s.frames_analysed > 0)
                .count();
            if up == to {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60 + 2 * to as u64) {
                return Err(format!(
                    "{up} of {to} cameras streaming after {:?}",
                    t0.elapsed()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(warmup).await;
        if to == 1 {
            rss_one = sys::rss_bytes("self");
        }
    }

    let before = running.status.all();
    if let Ok(mut s) = incidents.lock() {
        s.counting = true;
    }
    let meter = CpuMeter::start(&[cam.child.id()]);
    let start = Instant::now();
    let mut samples = Vec::new();
    // Per camera (seconds, frames in, frames analysed): the status is published once a second,
    // so rates are fitted over every sample rather than taken from the two ends.
    let mut counts: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut record = |all: &[CameraStatus], t: f64| {
        for s in all {
            counts.entry(s.camera.clone()).or_default().push((
                t,
                s.frames_in as f64,
                s.frames_analysed as f64,
            ));
        }
    };
    record(&before, 0.0);
    let step = Duration::from_secs(if window > Duration::from_secs(120) {
        10
    } else {
        2
    });
    while start.elapsed() < window {
        tokio::time::sleep(step.min(window.saturating_sub(start.elapsed()))).await;
        let t = start.elapsed().as_secs_f64();
        samples.push((t, mb(sys::rss_bytes("self"))));
        record(&running.status.all(), t);
    }
    let window_s = start.elapsed().as_secs_f64();
    let cpu = meter.read();
    let after = running.status.all();
    follower.abort();
    let rss = sys::rss_bytes("self");

    let detect = Histo::gather(&running.metrics, "detect_inference_seconds");
    let queue_wait = Histo::gather(&running.metrics, "detect_queue_wait_seconds");
    let (i0, a0, d0) = totals(&before);
    let (i1, a1, d1) = totals(&after);
    let (mut min_in, mut min_an) = (f64::INFINITY, f64::INFINITY);
    for series in counts.values() {
        let ins: Vec<(f64, f64)> = series.iter().map(|s| (s.0, s.1)).collect();
        let ans: Vec<(f64, f64)> = series.iter().map(|s| (s.0, s.2)).collect();
        min_in = min_in.min(slope(&ins));
        min_an = min_an.min(slope(&ans));
    }
    if counts.is_empty() {
        (min_in, min_an) = (0.0, 0.0);
    }
    let dropped = d1.saturating_sub(d0);
    let sustained = after.len() == n
        && dropped == 0
        && min_in >= 0.95 * clip_fps
        && min_an >= 0.95 * (clip_fps / f64::from(args.every)).min(ANALYSIS_FPS);
    let (opened, mut lat) = incidents
        .lock()
        .map(|s| (s.opened, s.latencies_ms.clone()))
        .unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    let t = Trial {
        cameras: n,
        window_s,
        frames_in: i1.saturating_sub(i0),
        frames_analysed: a1.saturating_sub(a0),
        frames_dropped: dropped,
        min_input_fps: min_in,
        min_analysis_fps: min_an,
        sustained,
        rss_idle_mb: mb(rss_idle),
        rss_mb: mb(rss),
        rss_one_mb: mb(rss_one),
        rss_per_camera_mb: if n > 1 {
            mb(rss.saturating_sub(rss_one)) / (n - 1) as f64
        } else {
            mb(rss.saturating_sub(rss_idle))
        },
        rss_slope_mb_per_min: 60.0 * slope(&samples),
        rss_samples: samples,
        cpu,
        detect,
        queue_wait,
        incidents_opened: opened,
        latency_p50_ms: (!lat.is_empty()).then(|| percentile(&lat, 50.0)),
        latency_p99_ms: (!lat.is_empty()).then(|| percentile(&lat, 99.0)),
        latency_note: if lat.is_empty() && opened > 0 {
            LATENCY_NOTE.into()
        } else if opened == 0 {
            "no incident opened".into()
        } else {
            String::new()
        },
    };
    println!(
        "  {} cameras, {:.0} s: {} (own {:.2} cores, foreign {:.2} cores)",
        n,
        window_s,
        t.summary(),
        cpu.own_cores,
        cpu.foreign_cores
    );
    Ok(t)
}

/// Capacity search, twice the capacity, then the long memory run at the capacity.
pub async fn run(args: &Args, decode: &Decode, inference: &Inference) -> Result<Live, String> {
    let clip_fps = decode.clip_fps;
    let per_camera_cpu_s =
        clip_fps * decode.cpu_ms_per_frame / 1e3 + ANALYSIS_FPS * inference.cpu_ms / 1e3;
    let mut live = Live {
        computed_limit: sys::cores() as f64 / per_camera_cpu_s.max(1e-9),
        ..Live::default()
    };
    println!(
        "computed limit: {} cores / ({clip_fps:.2} fps x {:.2} ms decode ({}) + {ANALYSIS_FPS} x {:.2} ms inference) = {:.1} cameras",
        sys::cores(),
        decode.cpu_ms_per_frame,
        decode.threads_label(),
        inference.cpu_ms,
        live.computed_limit
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let served = long_clip(&args.clip, dir.path(), 0.0)?;
    let cam = CamProcess::start(&served)?;
    let window = Duration::from_secs_f64(args.live_secs);
    let mut n = args
        .cams
        .unwrap_or_else(|| ((0.9 * live.computed_limit).ceil() as usize).max(1));
    let mut best: Option<usize> = None;
    let mut worst: Option<usize> = None;
    for tried in 1.. {
        let t = trial(args, &cam, clip_fps, n, window).await?;
        let ok = t.sustained;
        live.trials.push(t);
        if ok {
            best = best.max(Some(n));
        } else {
            worst = Some(worst.map_or(n, |w| w.min(n)));
        }
        // Bisect once bracketed; without a sustained load yet, keep stepping down by a fifth.
        let next = match (best, worst) {
            _ if tried >= MAX_TRIALS_NONE_SUSTAINED => break,
            (Some(_), _) if tried >= MAX_TRIALS => break,
            (Some(b), Some(w)) if w <= b + 1 => break,
            (Some(b), Some(w)) => (b + w) / 2,
            (Some(b), None) => b + 1,
            (None, Some(w)) if w > 1 => (w - 1).min((w as f64 * 0.8).floor().max(1.0) as usize),
            _ => break,
        };
        n = next;
    }
    live.capacity = best;
    let Some(cap) = best else {
        return Ok(live);
    };
    println!("capacity {cap}; twice that:");
    live.overload = Some(trial(args, &cam, clip_fps, 2 * cap, window).await?);
    drop(cam);
    println!(
        "memory run at {cap} cameras for {:.0} s, in a fresh process:",
        args.memory_secs
    );
    live.memory = Some(memory_child(cap, clip_fps)?);
    Ok(live)
}

/// Runs this benchmark again as `--memory-child N`: a process whose heap the earlier trials
/// have not grown, so that its memory is the service's at N cameras.
fn memory_child(n: usize, clip_fps: f64) -> Result<Trial, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(std::env::args().skip(1))
        .args([
            "--memory-child",
            &n.to_string(),
            "--clip-fps",
            &clip_fps.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("memory run: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!(
        "{}",
        text.lines()
            .filter(|l| !l.starts_with('{'))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("memory run printed no result ({})", out.status))?;
    serde_json::from_str(line).map_err(|e| format!("memory run result: {e}"))
}

/// The child's side: one trial of `memory_secs` at `n` cameras, its result as one JSON line.
pub async fn memory_run(args: &Args, n: usize, clip_fps: f64) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Warm-up and the time to start every camera come on top of the measured window.
    let served = long_clip(&args.clip, dir.path(), args.memory_secs + 120.0)?;
    let cam = CamProcess::start(&served)?;
    let window = Duration::from_secs_f64(args.memory_secs);
    let t = trial(args, &cam, clip_fps, n, window).await?;
    println!("{}", serde_json::to_string(&t).map_err(|e| e.to_string())?);
    Ok(())
}
