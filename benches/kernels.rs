//! The small kernels of the analysis path, on real frames of the motorway clip (or `--clip`):
//! letterbox of a 640-wide analysis frame into each model's input, decoding and NMS of real model
//! output (the detector's post-processing stage), one tracker update with real detections, and
//! JPEG encoding of a native 960x540 frame with the `image` crate (what a snapshot costs).
//! Plain timing loop with medians, like `benches/detect.rs`:
//! `cargo bench --bench kernels [-- --clip PATH]`. Without `--bench` it returns at once.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil::detect::prep::Letterboxer;
use vigil::detect::{Detection, Detector, DetectorConfig};
use vigil::frame::Frame;
use vigil::ingest::{FileReader, ReaderOptions};
use vigil::track::{Tracker, TrackerConfig};

const RUNS: usize = 200;

fn main() {
    // `cargo test --all-targets` runs this file too (without `--bench`): stay quick there.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("kernels bench: run with `cargo bench --bench kernels`");
        return;
    }
    let clip = match args.iter().position(|a| a == "--clip") {
        Some(i) => args.get(i + 1).map(PathBuf::from),
        None => common::shared("media/traffic_motorway_overpass_degirum.mp4"),
    };
    let Some(clip) = clip else {
        return;
    };
    let frames = read(&clip, 5.0, 640);
    let native = read(&clip, 0.0, 0).into_iter().next();
    let (Some(first), Some(native)) = (frames.first(), native) else {
        eprintln!("kernels bench: no frame in {}", clip.display());
        return;
    };
    println!(
        "clip {}: {} analysis frames of {}x{}, native {}x{}; medians of {RUNS} runs after warm-up",
        clip.display(),
        frames.len(),
        first.width,
        first.height,
        native.width,
        native.height
    );

    let mut detections: Option<Vec<(Duration, Vec<Detection>)>> = None;
    for (name, manifest) in common::bundled_manifests() {
        let mut lb = Letterboxer::new(&manifest.input);
        let letterbox = common::median(RUNS, || {
            let t = Instant::now();
            lb.run(first.rgb(), first.width, first.height, first.stride)
                .expect("letterbox");
            t.elapsed()
        });
        let (iw, ih) = (manifest.input.width, manifest.input.height);
        let mut det = Detector::from_manifest(manifest, &DetectorConfig::for_model(name))
            .expect("loading the detector");
        // Post-processing of real outputs: one detection per analysis frame.
        let mut post = Vec::new();
        let mut seq = Vec::new();
        for f in &frames {
            let found = det.detect(f).expect("detection").to_vec();
            post.push(det.last_times().post);
            seq.push((f.pts, found));
        }
        post.sort();
        let boxes: usize = seq.iter().map(|(_, d)| d.len()).sum();
        println!(
            "{name:>10}: letterbox 640 -> {iw}x{ih} {letterbox:>9.2?}   decode+NMS {:>9.2?} ({:.1} boxes a frame)",
            post[post.len() / 2],
            boxes as f64 / seq.len().max(1) as f64
        );
        detections.get_or_insert(seq);
    }

    if let Some(seq) = &detections {
        let mut times = Vec::new();
        for _ in 0..20 {
            let mut tracker = Tracker::new(TrackerConfig::default());
            for (t, dets) in seq {
                let t0 = Instant::now();
                let tracks = tracker.update(*t, dets);
                times.push(t0.elapsed());
                std::hint::black_box(tracks);
            }
        }
        times.sort();
        println!(
            "   tracker: update {:>9.2?} median, {:>9.2?} p99 ({} updates with real detections)",
            times[times.len() / 2],
            times[times.len() * 99 / 100],
            times.len()
        );
    }

    let img = rgb_image(&native);
    let mut out = Vec::new();
    let jpeg = common::median(30, || {
        out.clear();
        let t = Instant::now();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        enc.encode_image(&img).expect("jpeg");
        t.elapsed()
    });
    println!(
        "      jpeg: {}x{} quality 85 {jpeg:>9.2?} ({} KB)",
        img.width(),
        img.height(),
        out.len() / 1024
    );
}

/// Every frame of `clip` at `fps` (0 = all) and `width` (0 = native).
fn read(clip: &Path, fps: f64, width: u32) -> Vec<Frame> {
    let mut r = FileReader::open(clip, &ReaderOptions { fps, width }).expect("opening the clip");
    let mut v = Vec::new();
    while let Some(f) = r.next_frame().expect("decoding") {
        // An owned copy: holding the pipeline's buffers could starve its buffer pool.
        let owned: Vec<u8> = f.rgb().to_vec();
        v.push(Frame {
            data: Box::new(owned),
            ..f
        });
        if fps == 0.0 {
            break; // one native frame is enough
        }
    }
    v
}

/// A frame's rows (without stride padding) as an image.
fn rgb_image(f: &Frame) -> image::RgbImage {
    let row = f.width as usize * 3;
    let mut buf = Vec::with_capacity(row * f.height as usize);
    for y in 0..f.height as usize {
        buf.extend_from_slice(&f.rgb()[y * f.stride..y * f.stride + row]);
    }
    image::RgbImage::from_raw(f.width, f.height, buf).expect("image size")
}
