//! The detection scheduler with a real model (YOLOX-nano from the shared folder) on a real CCTV
//! still: one worker thread shared by three cameras. Camera `busy` offers frames constantly,
//! camera `quiet` offers one frame at a time and waits for its result, and camera `stalled` has a
//! consumer that never reads. The quiet camera must be served every time (round-robin: without
//! it the busy camera, registered first, would take every turn), the busy one too, the stalled consumer must not hold the worker, results of a
//! camera arrive in frame order, and the per-camera metrics are reported.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use vigil::detect::{DetectionResult, DetectorConfig, Manifest, Scheduler};
use vigil::frame::{Frame, FrameSlot, Thumbnail};
use vigil::metrics::Metrics;

/// Shared pixels, so that offering a frame does not copy the image.
struct Pixels(Arc<Vec<u8>>);

impl AsRef<[u8]> for Pixels {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct Image {
    rgb: Arc<Vec<u8>>,
    width: u32,
    height: u32,
}

impl Image {
    fn frame(&self, seq: u64) -> Frame {
        Frame {
            seq,
            pts: Duration::from_millis(seq * 40),
            arrived: SystemTime::now(),
            width: self.width,
            height: self.height,
            stride: self.width as usize * 3,
            data: Box::new(Pixels(self.rgb.clone())),
        }
    }
}

/// Waits for the next result, failing (instead of hanging) if none comes for a long time.
fn recv(rx: &mut mpsc::Receiver<DetectionResult>, what: &str) -> DetectionResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(mpsc::error::TryRecvError::Disconnected) => panic!("{what}: channel closed"),
            Err(mpsc::error::TryRecvError::Empty) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{what}: no result: camera starved"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn start(metrics: &Metrics) -> Option<(Scheduler, Image)> {
    let onnx = common::shared("models/yolox_nano.onnx")?;
    let still = common::shared("media/still_cctv_busstop_qeng.jpg")?;
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/yolox_nano.toml");
    let mut manifest = Manifest::load(&toml).unwrap();
    manifest.model_file = onnx;
    let config = DetectorConfig {
        workers: 1,
        result_capacity: 2,
        ..DetectorConfig::for_model("yolox_nano")
    };
    let scheduler = Scheduler::start_with(manifest, &config, metrics).unwrap();
    let rgb = image::open(still).unwrap().to_rgb8();
    let image = Image {
        width: rgb.width(),
        height: rgb.height(),
        rgb: Arc::new(rgb.into_raw()),
    };
    Some((scheduler, image))
}

#[test]
fn round_robin_serves_a_quiet_camera_next_to_a_busy_one_and_a_stalled_consumer() {
    let metrics = Metrics::new();
    let Some((scheduler, image)) = start(&metrics) else {
        return;
    };
    let image = Arc::new(image);
    let (busy, mut busy_rx) = scheduler
        .register("busy", Arc::new(FrameSlot::new()))
        .unwrap();
    let (quiet, mut quiet_rx) = scheduler
        .register("quiet", Arc::new(FrameSlot::new()))
        .unwrap();
    let (stalled, _stalled_rx) = scheduler
        .register("stalled", Arc::new(FrameSlot::new()))
        .unwrap();
    assert!(
        scheduler
            .register("quiet", Arc::new(FrameSlot::new()))
            .is_err()
    );

    // Busy and stalled cameras: a frame always pending.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (stop, image) = (stop.clone(), image.clone());
        std::thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                if !busy.slot().is_pending() {
                    busy.offer(image.frame(seq));
                }
                stalled.offer(image.frame(seq)); // full slot: the oldest is dropped and counted
                seq += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (busy, stalled)
        })
    };

    // The busy camera's consumer keeps up, so it always has room.
    let drainer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) || seen.is_empty() {
                match busy_rx.try_recv() {
                    Ok(r) => seen.push(r.seq),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            seen
        })
    };

    // The quiet camera, in lockstep: each frame must be served although the busy camera always
    // has a frame pending and room for its result.
    for seq in 0..6 {
        quiet.offer(image.frame(seq));
        let r = recv(&mut quiet_rx, "quiet");
        assert_eq!((&*r.camera, r.seq), ("quiet", seq));
        assert_eq!((r.width, r.height), (image.width, image.height));
        assert!(!r.detections.is_empty(), "people at the bus stop");
        assert!(r.inference >= r.stages.infer);
        // The thumbnail is the analysed frame's.
        let thumb = r.thumb.as_ref().expect("a thumbnail with every result");
        assert_eq!(thumb, &Thumbnail::from_frame(&image.frame(seq)));
        assert_eq!(thumb.width, 128);
    }
    stop.store(true, Ordering::Relaxed);
    let (busy, stalled) = feeder.join().unwrap();
    let busy_seen = drainer.join().unwrap();

    assert!(!busy_seen.is_empty(), "busy camera served");
    assert!(
        busy_seen.windows(2).all(|w| w[0] < w[1]),
        "in order: {busy_seen:?}"
    );
    // The stalled consumer got exactly its channel's worth of frames taken; the others were
    // pushed out of its slot or are still pending there (as many as it holds).
    let s = stalled.slot();
    assert_eq!(s.pending(), vigil::frame::SLOT_FRAMES);
    assert_eq!(s.offered() - s.dropped() - s.pending() as u64, 2);
    assert_eq!(quiet.slot().dropped(), 0);
    drop(busy);

    let text = metrics.render();
    for camera in ["busy", "quiet", "stalled"] {
        for metric in [
            "detect_inference_seconds_count",
            "detect_queue_wait_seconds_count",
        ] {
            let line = format!("vigil_{metric}{{camera=\"{camera}\"}}");
            assert!(text.contains(&line), "{line} missing in\n{text}");
        }
    }
    let stalled_count = text
        .lines()
        .find(|l| l.starts_with("vigil_detect_inference_seconds_count{camera=\"stalled\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(
        stalled_count,
        Some(2),
        "result_capacity frames, then skipped"
    );
    scheduler.shutdown();
}

#[test]
fn dropping_the_receiver_unregisters_the_camera() {
    let metrics = Metrics::new();
    let Some((scheduler, image)) = start(&metrics) else {
        return;
    };
    let (a, a_rx) = scheduler.register("a", Arc::new(FrameSlot::new())).unwrap();
    let (b, mut b_rx) = scheduler.register("b", Arc::new(FrameSlot::new())).unwrap();
    drop(a_rx);
    a.offer(image.frame(0));
    b.offer(image.frame(0));
    assert_eq!(recv(&mut b_rx, "b").seq, 0);
    // The worker found a's receiver gone when it reached a (before or after b).
    b.offer(image.frame(1));
    assert_eq!(recv(&mut b_rx, "b").seq, 1);
    let cams: Vec<String> = scheduler.cameras().iter().map(|c| c.to_string()).collect();
    assert_eq!(cams, ["b"]);
    assert!(scheduler.unregister("b"));
    assert!(!scheduler.unregister("b"));
    drop(scheduler); // joins the worker
    assert!(
        b_rx.blocking_recv().is_none(),
        "the sender is gone with the camera"
    );
}
