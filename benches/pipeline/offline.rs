//! The offline half: the decode limit (GStreamer alone), the inference limit (the ONNX Runtime
//! session alone, timed inside `Detector`), and the offline pipeline (`FileReader` -> `Analyzer`)
//! with its overhead ratio against those two limits.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use serde::Serialize;
use vigil::analyze::{Analyzer, Format, OfflineRules, Printer};
use vigil::camera::CameraFile;
use vigil::detect::{Detector, DetectorConfig};
use vigil::frame::Thumbnail;
use vigil::ingest::{FileReader, ReaderOptions};
use vigil::track::TrackerConfig;

use super::Args;
use super::sys::{self, CpuMeter, CpuUse};

/// The analysis width of the service's default `[ingest]` config.
pub const ANALYSIS_WIDTH: u32 = 640;

#[derive(Clone, Debug, Serialize)]
pub struct Decode {
    /// The decoder's `max-threads` (0 = its default, one per core).
    pub threads: i32,
    pub passes: u32,
    /// Frames of one pass (the clip's frame count).
    pub frames_per_pass: u64,
    pub clip_fps: f64,
    pub width: i32,
    pub height: i32,
    /// Wall time of one pass.
    pub wall_s_per_pass: f64,
    pub per_s: f64,
    pub wall_ms_per_frame: f64,
    /// Process CPU (all decoder threads) a frame.
    pub cpu_ms_per_frame: f64,
    pub cpu: CpuUse,
}

impl Decode {
    pub fn line(&self) -> String {
        format!(
            "decode ({}): {} frames x {} passes, {:.0} frames/s, {:.2} ms wall and {:.2} ms CPU a frame (own {:.2} cores, foreign {:.2} cores)",
            self.threads_label(),
            self.frames_per_pass,
            self.passes,
            self.per_s,
            self.wall_ms_per_frame,
            self.cpu_ms_per_frame,
            self.cpu.own_cores,
            self.cpu.foreign_cores
        )
    }

    pub fn threads_label(&self) -> String {
        match self.threads {
            0 => "decoder threads: default".into(),
            n => format!("decoder threads: {n}"),
        }
    }
}

/// One pass: `filesrc ! decodebin ! video/x-raw ! fakesink sync=false`, the decoder's
/// `max-threads` set to `threads` (0 = its default, one per core; the service sets
/// `ingest.decode_threads`, default 1). Returns (frames, fps, width, height).
fn decode_pass(clip: &Path, threads: i32) -> Result<(u64, f64, i32, i32), String> {
    let line = format!(
        "filesrc location=\"{}\" ! decodebin ! video/x-raw ! fakesink name=sink sync=false",
        quoted(clip)
    );
    let pipeline = launch(&line, "decode pipeline")?;
    pipeline.connect_deep_element_added(move |_, _, element| {
        if element.has_property("max-threads") {
            element.set_property("max-threads", threads);
        }
    });
    let sink = pipeline.by_name("sink").ok_or("decode pipeline: no sink")?;
    let pad = sink.static_pad("sink").ok_or("fakesink has no pad")?;
    let frames = Arc::new(AtomicU64::new(0));
    // The caps are read while streaming: a pad forgets them when the pipeline goes to NULL.
    let caps: Arc<std::sync::Mutex<Option<gst::Caps>>> = Arc::default();
    let (counter, seen) = (frames.clone(), caps.clone());
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
        if counter.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut c) = seen.lock()
        {
            *c = pad.current_caps();
        }
        gst::PadProbeReturn::Ok
    });
    play_to_end(&pipeline, "decoding", 300)?;
    let caps = caps.lock().ok().and_then(|c| c.clone());
    let s = caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .ok_or("decoded frames without caps")?;
    let fps = s
        .get::<gst::Fraction>("framerate")
        .map_or(0.0, |f| f.numer() as f64 / f.denom().max(1) as f64);
    let w = s.get::<i32>("width").unwrap_or(0);
    let h = s.get::<i32>("height").unwrap_or(0);
    Ok((frames.load(Ordering::Relaxed), fps, w, h))
}

/// A path inside double quotes for a `gst-launch` line.
pub fn quoted(p: &Path) -> String {
    p.display().to_string().replace('"', "\\\"")
}

/// Builds a pipeline from a `gst-launch` line.
pub fn launch(line: &str, what: &str) -> Result<gst::Pipeline, String> {
    gst::parse::launch(line)
        .map_err(|e| format!("{what}: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| format!("{what}: not a pipeline"))
}

/// Plays `pipeline` until its end of stream (or an error, or `timeout_s`), then sets it to
/// `NULL` (which makes its pads forget their caps).
pub fn play_to_end(pipeline: &gst::Pipeline, what: &str, timeout_s: u64) -> Result<(), String> {
    let bus = pipeline.bus().ok_or(format!("{what}: no bus"))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("{what}: {e}"))?;
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(timeout_s),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(format!("{what}: {}", e.error())),
        _ => Err(format!("{what}: no end of stream within {timeout_s} s")),
    }
}

/// GStreamer decoding the clip `passes` times as fast as it can.
pub fn decode_limit(clip: &Path, passes: u32, threads: i32) -> Result<Decode, String> {
    vigil::ingest::init().map_err(|e| e.to_string())?;
    decode_pass(clip, threads)?; // warm the file cache and the plugin registry
    let meter = CpuMeter::start(&[]);
    let cpu0 = sys::self_cpu();
    let t0 = Instant::now();
    let mut total = 0;
    let mut info = (0, 0.0, 0, 0);
    for _ in 0..passes {
        info = decode_pass(clip, threads)?;
        total += info.0;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu_s = (sys::self_cpu() - cpu0).as_secs_f64();
    let cpu = meter.read();
    let frames = total.max(1) as f64;
    Ok(Decode {
        threads,
        passes,
        frames_per_pass: info.0,
        clip_fps: info.1,
        width: info.2,
        height: info.3,
        wall_s_per_pass: wall / f64::from(passes),
        per_s: frames / wall,
        wall_ms_per_frame: wall * 1e3 / frames,
        cpu_ms_per_frame: cpu_s * 1e3 / frames,
        cpu,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Inference {
    pub runs: usize,
    pub threads: usize,
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p90_ms: f64,
    /// Inferences a second on one session: 1000 / mean.
    pub per_s: f64,
    /// Process CPU an inference (letterbox and decoding included, about 2 % of it).
    pub cpu_ms: f64,
    pub cpu: CpuUse,
}

impl Inference {
    pub fn line(&self) -> String {
        format!(
            "inference: {} runs on {} thread(s), mean {:.2} ms, median {:.2} ms, p90 {:.2} ms => {:.1}/s; {:.2} ms CPU each (foreign {:.2} cores)",
            self.runs,
            self.threads,
            self.mean_ms,
            self.median_ms,
            self.p90_ms,
            self.per_s,
            self.cpu_ms,
            self.cpu.foreign_cores
        )
    }
}

/// The detector configuration of every stage: the model by name, `args.threads` intra-op threads.
pub fn detector_config(args: &Args) -> DetectorConfig {
    DetectorConfig {
        intra_threads: args.threads,
        ..DetectorConfig::for_model(&args.model)
    }
}

fn first_frame(clip: &Path) -> Result<vigil::frame::Frame, String> {
    let mut reader = FileReader::open(
        clip,
        &ReaderOptions {
            fps: 0.0,
            width: ANALYSIS_WIDTH,
        },
    )
    .map_err(|e| e.to_string())?;
    reader
        .next_frame()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no frame", clip.display()))
}

/// The session's run time on the clip's first analysis frame, letterboxed once per run as the
/// service does (only the `session.run` part is timed: `StageTimes::infer`).
pub fn inference_limit(args: &Args, runs: usize) -> Result<Inference, String> {
    let frame = first_frame(&args.clip)?;
    let mut det = Detector::load(&detector_config(args)).map_err(|e| e.to_string())?;
    for _ in 0..5 {
        det.detect(&frame).map_err(|e| e.to_string())?;
    }
    let meter = CpuMeter::start(&[]);
    let cpu0 = sys::self_cpu();
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        det.detect(&frame).map_err(|e| e.to_string())?;
        ms.push(det.last_times().infer.as_secs_f64() * 1e3);
    }
    let cpu_s = (sys::self_cpu() - cpu0).as_secs_f64();
    let cpu = meter.read();
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    ms.sort_by(f64::total_cmp);
    Ok(Inference {
        runs,
        threads: args.threads,
        mean_ms: mean,
        median_ms: percentile(&ms, 50.0),
        p90_ms: percentile(&ms, 90.0),
        per_s: 1e3 / mean.max(1e-9),
        cpu_ms: cpu_s * 1e3 / runs.max(1) as f64,
        cpu,
    })
}

/// The `p`-th percentile of sorted values (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Clone, Debug, Serialize)]
pub struct Pipeline {
    pub passes: u32,
    pub analysis_fps: f64,
    pub frames_decoded: u64,
    pub frames_analysed: u64,
    pub wall_s: f64,
    pub decoded_per_s: f64,
    pub analysed_per_s: f64,
    /// Wall time / (decode wall time of the frames + mean inference x frames analysed).
    pub overhead: f64,
    /// Own CPU time / (decode CPU of the frames + inference CPU x frames analysed): the overhead
    /// in work rather than in time (decoding overlaps inference in the pipeline, so the time
    /// ratio can go below 1).
    pub cpu_overhead: f64,
    /// Detection (letterbox + inference + decoding and NMS) and tracking, per analysed frame.
    pub analysis_ms_per_frame: f64,
    pub cpu: CpuUse,
}

impl Pipeline {
    pub fn line(&self) -> String {
        format!(
            "pipeline: {} passes, {} frames decoded, {} analysed in {:.2} s: {:.0} frames/s, {:.1} analysed/s, {:.2} ms analysis a frame; overhead ratio {:.2} (time), {:.2} (CPU) (own {:.2} cores, foreign {:.2} cores)",
            self.passes,
            self.frames_decoded,
            self.frames_analysed,
            self.wall_s,
            self.decoded_per_s,
            self.analysed_per_s,
            self.analysis_ms_per_frame,
            self.overhead,
            self.cpu_overhead,
            self.cpu.own_cores,
            self.cpu.foreign_cores
        )
    }
}

/// `vigil analyze`'s loop (without printing) over the clip, `passes` times: every k-th frame
/// (the analysis rate clip fps / k) scaled to the analysis width, detected and tracked.
// TODO(rules): once `Analyzer` runs the rule engine (branch `rules`), give it an INTRUSION rule
// on a zone covering the whole frame so this stage includes the rules too.
/// The rules the offline pipeline runs, the same as each live camera's: a whole-frame zone with
/// an INTRUSION rule, a WRONG_WAY rule (allowed direction up the frame) in a vertical strip, plus
/// the camera-wide tampering rule (thumbnail statistics on every analysed frame).
const RULES: &str = r#"
id = "bench"
[[zones]]
id = "all"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[[zones]]
id = "strip"
polygon = [[0.45, 0.0], [0.55, 0.0], [0.55, 1.0], [0.45, 1.0]]
[[rules]]
id = "intrusion"
kind = "INTRUSION"
zone_id = "all"
classes = ["car"]
[[rules]]
id = "wrong-way"
kind = "WRONG_WAY"
zone_id = "strip"
params = { dx = 0.0, dy = -1.0 }
[[rules]]
id = "tampering"
kind = "CAMERA_TAMPERING"
"#;

pub fn pipeline(
    args: &Args,
    decode: &Decode,
    inference: &Inference,
    passes: u32,
) -> Result<Pipeline, String> {
    let fps = if decode.clip_fps > 0.0 {
        decode.clip_fps / f64::from(args.every)
    } else {
        return Err("the clip's frame rate is unknown".into());
    };
    let opts = ReaderOptions {
        fps,
        width: ANALYSIS_WIDTH,
    };
    let camera: CameraFile = toml::from_str(RULES).map_err(|e| format!("bench rules: {e}"))?;
    let mut wall = Duration::ZERO;
    let mut analysed = 0u64;
    let mut analysis = Duration::ZERO;
    let mut cpu_s = 0.0;
    let meter = CpuMeter::start(&[]);
    for _ in 0..passes {
        let det = Detector::load(&detector_config(args)).map_err(|e| e.to_string())?;
        let mut an = Analyzer::new(det, TrackerConfig::default());
        let mut rules = OfflineRules::new(&camera, an.labels());
        let mut events = Printer::new(std::io::sink(), Format::Json);
        let cpu0 = sys::self_cpu();
        let t0 = Instant::now();
        let mut reader = FileReader::open(&args.clip, &opts).map_err(|e| e.to_string())?;
        while let Some(frame) = reader.next_frame().map_err(|e| e.to_string())? {
            let t = Instant::now();
            let tracks = an.step(&frame, frame.pts).map_err(|e| e.to_string())?;
            let aspect = f64::from(frame.width) / f64::from(frame.height.max(1));
            let view = Thumbnail::from_frame(&frame);
            rules
                .step(frame.pts, aspect, tracks, Some(&view), &mut events)
                .map_err(|e| e.to_string())?;
            analysis += t.elapsed();
            analysed += 1;
        }
        rules.finish(&mut events).map_err(|e| e.to_string())?;
        wall += t0.elapsed();
        cpu_s += (sys::self_cpu() - cpu0).as_secs_f64();
    }
    let cpu = meter.read();
    let decoded = decode.frames_per_pass * u64::from(passes);
    let wall_s = wall.as_secs_f64();
    let ideal =
        decode.wall_s_per_pass * f64::from(passes) + analysed as f64 * inference.mean_ms / 1e3;
    let ideal_cpu =
        (decoded as f64 * decode.cpu_ms_per_frame + analysed as f64 * inference.cpu_ms) / 1e3;
    Ok(Pipeline {
        cpu_overhead: cpu_s / ideal_cpu.max(1e-9),
        passes,
        analysis_fps: fps,
        frames_decoded: decoded,
        frames_analysed: analysed,
        wall_s,
        decoded_per_s: decoded as f64 / wall_s,
        analysed_per_s: analysed as f64 / wall_s,
        overhead: wall_s / ideal.max(1e-9),
        analysis_ms_per_frame: analysis.as_secs_f64() * 1e3 / analysed.max(1) as f64,
        cpu,
    })
}
