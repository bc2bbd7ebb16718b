//! Snapshot encoding: the `image` crate's JPEG encoder against GStreamer's `jpegenc`
//! (libjpeg-turbo) on a real CCTV still scaled to 1920x1080 and 960x540, plus drawing and a whole
//! `write_snapshots` (draw + two encodes + two durable writes) with the product's encoder. Plain
//! timing loop, no framework: `cargo bench --bench snapshot` (or, without a release build of every
//! dependency, `cargo bench --bench snapshot --profile dev`: dependencies are optimised there too).
//! Needs `../shared` (the still); skipped with a message when missing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use vigil::media::snapshot::{Annotation, JpegEncoder, PRODUCT_ENCODER, draw, encode_jpeg};
use vigil::media::write_snapshots;
use vigil::rules::geometry::Point;

const RUNS: usize = 15;
const QUALITY: u8 = 85;

fn main() {
    // `cargo test --all-targets` runs this file too (without `--bench`): stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("snapshot bench: run with `cargo bench --bench snapshot`");
        return;
    }
    let Some(still) = common::shared("media/still_cctv_busstop_qeng.jpg") else {
        return;
    };
    vigil::ingest::init().expect("GStreamer");
    let src = image::open(still).expect("decoding the still").to_rgb8();
    let ann = annotation();
    let dir = tempfile::tempdir().expect("temporary folder");
    println!("{RUNS} runs after 3 warm-up runs, medians, quality {QUALITY}");
    println!(
        "{:>9} | {:>7} | {:>8} | {:>10} | {:>13} | {:>9} | {:>11} | {:>15}",
        "frame",
        "draw ms",
        "image ms",
        "jpegenc ms",
        "image/jpegenc",
        "image KiB",
        "jpegenc KiB",
        "write_snapshots"
    );
    for (w, h) in [(1920u32, 1080u32), (960, 540)] {
        let rgb =
            image::imageops::resize(&src, w, h, image::imageops::FilterType::Triangle).into_raw();
        let draw_t = common::median(RUNS, || {
            let mut c = rgb.clone();
            let t = Instant::now();
            draw(&mut c, w, h, &ann);
            t.elapsed()
        });
        let mut sizes = Vec::new();
        let mut times = Vec::new();
        for enc in [JpegEncoder::Image, JpegEncoder::GStreamer] {
            sizes.push(
                encode_jpeg(enc, &rgb, w, h, QUALITY)
                    .expect("encoding")
                    .len(),
            );
            times.push(common::median(RUNS, || {
                let t = Instant::now();
                encode_jpeg(enc, &rgb, w, h, QUALITY).expect("encoding");
                t.elapsed()
            }));
        }
        let frame = common::rgb_frame(&rgb, w, h, 0);
        let whole = common::median(RUNS, || {
            let t = Instant::now();
            write_snapshots(&frame, &ann, dir.path(), "bench", QUALITY).expect("writing");
            t.elapsed()
        });
        println!(
            "{:>9} | {:>7.2} | {:>8.2} | {:>10.2} | {:>12.1}x | {:>9} | {:>11} | {:>9.2} ms",
            format!("{w}x{h}"),
            ms(draw_t),
            ms(times[0]),
            ms(times[1]),
            ms(times[0]) / ms(times[1]),
            sizes[0] / 1024,
            sizes[1] / 1024,
            ms(whole),
        );
    }
    println!("above 1x: jpegenc is faster; write_snapshots uses {PRODUCT_ENCODER:?}");
}

fn annotation() -> Annotation {
    Annotation {
        boxes: (0..6)
            .map(|i| {
                let x = 0.1 + i as f32 * 0.13;
                ([x, 0.4, x + 0.1, 0.8], format!("person #{i}"))
            })
            .collect(),
        zone: vec![
            Point::new(0.05, 0.95),
            Point::new(0.95, 0.95),
            Point::new(0.8, 0.35),
            Point::new(0.2, 0.35),
        ],
        line: Some((Point::new(0.1, 0.6), Point::new(0.9, 0.65))),
        caption: "cam-busstop  CROWD  2026-12-04 07:00:00Z".into(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
