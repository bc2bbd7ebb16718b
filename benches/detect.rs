//! Detection timings per stage (letterbox, inference, post-processing) for the bundled models on
//! a real CCTV still, with one intra-op thread. Plain timing loop, no framework:
//! `cargo bench --bench detect`. Needs `../shared` (YOLOX-nano, the still) and, for YOLOv12n,
//! `models/yolov12n.onnx` from `scripts/setup`; what is missing is skipped with a message.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use vigil::detect::prep::Letterboxer;
use vigil::detect::{Detector, DetectorConfig};

const RUNS: usize = 30;

fn main() {
    // `cargo test --all-targets` runs this file too (without `--bench`): stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("detect bench: run with `cargo bench --bench detect`");
        return;
    }
    let Some(still) = common::shared("media/still_cctv_busstop_qeng.jpg") else {
        return;
    };
    let rgb = image::open(still).expect("decoding the still").to_rgb8();
    let (w, h) = rgb.dimensions();
    println!("frame {w}x{h}, {RUNS} runs after 3 warm-up runs, medians");

    for (name, manifest) in common::bundled_manifests() {
        let mut lb = Letterboxer::new(&manifest.input);
        let prep_only = common::median(RUNS, || {
            let t = std::time::Instant::now();
            lb.run(rgb.as_raw(), w, h, w as usize * 3)
                .expect("letterbox");
            t.elapsed()
        });

        let config = DetectorConfig::for_model(name);
        let mut det = Detector::from_manifest(manifest, &config).expect("loading the detector");
        let mut stages = Vec::new();
        for i in 0..RUNS + 3 {
            det.detect_rgb(rgb.as_raw(), w, h, w as usize * 3)
                .expect("detection");
            if i >= 3 {
                stages.push(det.last_times());
            }
        }
        let pick = |f: fn(&vigil::detect::StageTimes) -> Duration| {
            let mut v: Vec<Duration> = stages.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        println!(
            "{name:>10}: letterbox {:>8.2?} (alone {:>8.2?})  inference {:>8.2?}  post {:>8.2?}  total {:>8.2?}",
            pick(|s| s.prep),
            prep_only,
            pick(|s| s.infer),
            pick(|s| s.post),
            pick(|s| s.total()),
        );
    }
}
