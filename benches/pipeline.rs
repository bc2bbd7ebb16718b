//! The pipeline against the machine's limits, in one run on one clip and one model:
//!
//! 1. decode limit: GStreamer decoding the clip as fast as it can into a fake sink;
//! 2. inference limit: the ONNX Runtime session alone on a prepared input, same thread count;
//! 3. the offline pipeline (`FileReader` -> `Analyzer`: every k-th frame detected and tracked) as
//!    fast as it goes, and its overhead ratio = its time / (decode time + the inference time of the
//!    frames it analysed); 1.00 would be perfect;
//! 4. live capacity: cameras (the test camera, in a child process, serving the clip in real time
//!    over RTSP) registered through the gRPC API at 5 analysis fps: the most this machine
//!    sustains with no analysis frame dropped, then twice that;
//! 5. memory: resident memory per camera at steady state (pre-roll ring included) and its drift
//!    over a long run;
//!
//! beside the Python peer (`../shared/peer`) measured the same way in the same run. Prints a table
//! and writes `target/bench/pipeline.json`. Every measurement says how much CPU other processes
//! used meanwhile ("foreign"). Kernels are in `benches/kernels.rs`.
//!
//! `cargo bench --bench pipeline -- [--model yolox_nano|yolov12n] [--clip PATH] [--every K]
//! [--threads T] [--workers W] [--cams N] [--live-secs S] [--memory-secs S] [--no-live]
//! [--no-peer] [--peer-live] [--quick]`. Without `--bench` (as under `cargo test --all-targets`)
//! it returns at once.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "pipeline/live.rs"]
mod live;
#[path = "pipeline/offline.rs"]
mod offline;
#[path = "pipeline/peer.rs"]
mod peer;
#[path = "pipeline/sys.rs"]
mod sys;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What one run measures, from the command line.
#[derive(Clone, Debug, Serialize)]
pub struct Args {
    pub model: String,
    pub clip: PathBuf,
    /// Every k-th frame is analysed offline; live cameras are analysed at clip fps / k.
    pub every: u32,
    pub threads: usize,
    /// Detector sessions of the live service.
    pub workers: usize,
    /// Start the capacity search at this many cameras instead of 90 % of the computed limit.
    pub cams: Option<usize>,
    pub live_secs: f64,
    pub memory_secs: f64,
    pub live: bool,
    pub peer: bool,
    pub peer_live: bool,
    pub quick: bool,
    /// Internal: run only the memory trial at this many cameras, print it as JSON (see
    /// `live::memory_child`), with the clip's frame rate measured by the parent.
    pub memory_child: Option<usize>,
    pub clip_fps: Option<f64>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let motorway = common::shared_dir().join("media/traffic_motorway_overpass_degirum.mp4");
        let mut a = Args {
            model: "yolox_nano".into(),
            clip: motorway,
            every: 6,
            threads: 1,
            workers: 2,
            cams: None,
            live_secs: 60.0,
            memory_secs: 600.0,
            live: true,
            peer: true,
            peer_live: false,
            quick: false,
            memory_child: None,
            clip_fps: None,
        };
        let mut it = std::env::args().skip(1);
        let mut durations_set = (false, false);
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--bench" => {}
                "--model" => a.model = value("--model")?,
                "--clip" => a.clip = PathBuf::from(value("--clip")?),
                "--every" => a.every = num(&value("--every")?, "--every")?,
                "--threads" => a.threads = num(&value("--threads")?, "--threads")?,
                "--workers" => a.workers = num(&value("--workers")?, "--workers")?,
                "--cams" => a.cams = Some(num(&value("--cams")?, "--cams")?),
                "--live-secs" => {
                    a.live_secs = num(&value("--live-secs")?, "--live-secs")?;
                    durations_set.0 = true;
                }
                "--memory-secs" => {
                    a.memory_secs = num(&value("--memory-secs")?, "--memory-secs")?;
                    durations_set.1 = true;
                }
                "--no-live" => a.live = false,
                "--no-peer" => a.peer = false,
                "--peer-live" => a.peer_live = true,
                "--quick" => a.quick = true,
                "--memory-child" => {
                    a.memory_child = Some(num(&value("--memory-child")?, "--memory-child")?)
                }
                "--clip-fps" => a.clip_fps = Some(num(&value("--clip-fps")?, "--clip-fps")?),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if a.quick {
            if !durations_set.0 {
                a.live_secs = 8.0;
            }
            if !durations_set.1 {
                a.memory_secs = 15.0;
            }
        }
        if a.every == 0 || a.threads == 0 || a.workers == 0 || a.cams == Some(0) {
            return Err("--every, --threads, --workers and --cams must be at least 1".into());
        }
        Ok(a)
    }
}

fn num<T: std::str::FromStr>(v: &str, name: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{name}: {v:?} is not a number"))
}

/// Everything one run measured; written as JSON.
#[derive(Debug, Serialize)]
struct Report {
    date_utc: String,
    machine: Machine,
    args: Args,
    /// The decoder at its default threads (one per core): the offline pipeline's reference.
    decode: Option<offline::Decode>,
    /// The decoder on one thread, as each live camera decodes (`ingest.decode_threads`).
    decode_one_thread: Option<offline::Decode>,
    inference: Option<offline::Inference>,
    pipeline: Option<offline::Pipeline>,
    live: Option<live::Live>,
    peer: Option<peer::Peer>,
    /// vigil / peer (above 1 = vigil faster; for the overhead ratio, below 1 = vigil leaner).
    ratios: Vec<(String, f64)>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    Machine {
        cpu,
        cores: sys::cores(),
        kernel,
    }
}

fn date_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |s| s.trim().to_string())
}

/// Where the model's weights are when the repository's `models/` lacks them: the shared folder
/// for YOLOX-nano. Returns the folder to search (`VIGIL_MODELS_DIR`), or why the model is missing.
fn weights_dir(model: &str) -> Result<Option<PathBuf>, String> {
    let local = common::default_model_dir().join(format!("{model}.onnx"));
    if local.is_file() {
        return Ok(None);
    }
    let shared = common::shared_dir().join("models");
    if shared.join(format!("{model}.onnx")).is_file() {
        return Ok(Some(shared));
    }
    Err(format!(
        "{model}.onnx is in neither {} nor {}",
        local.display(),
        shared.display()
    ))
}

fn out_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench/pipeline.json")
}

fn main() {
    // As the service's own main does, before any thread starts.
    vigil::alloc::tune();
    // `cargo test --all-targets` runs this file too (without `--bench`): stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("pipeline bench: run with `cargo bench --bench pipeline`");
        return;
    }
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pipeline bench: {e}");
            std::process::exit(2);
        }
    };
    if !args.clip.is_file() {
        eprintln!("pipeline bench: {} is missing", args.clip.display());
        std::process::exit(2);
    }
    match weights_dir(&args.model) {
        // SAFETY: nothing else runs yet (no thread has been started), so nobody reads the
        // environment while it changes.
        Ok(Some(dir)) => unsafe { std::env::set_var("VIGIL_MODELS_DIR", dir) },
        Ok(None) => {}
        Err(e) => {
            eprintln!("pipeline bench: {e}");
            std::process::exit(2);
        }
    }
    if let (Some(n), Some(fps)) = (args.memory_child, args.clip_fps) {
        let done = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))
            .and_then(|rt| rt.block_on(live::memory_run(&args, n, fps)));
        if let Err(e) = done {
            eprintln!("pipeline bench, memory run: {e}");
            std::process::exit(1);
        }
        return;
    }
    let mut report = Report {
        date_utc: date_utc(),
        machine: machine(),
        args: args.clone(),
        decode: None,
        decode_one_thread: None,
        inference: None,
        pipeline: None,
        live: None,
        peer: None,
        ratios: Vec::new(),
    };
    println!(
        "vigil pipeline bench, {} ({} cores, {}), {}",
        report.machine.cpu, report.machine.cores, report.machine.kernel, report.date_utc
    );
    println!(
        "clip {}, model {}, {} intra-op thread(s), every {} frame(s){}",
        args.clip.display(),
        args.model,
        args.threads,
        args.every,
        if args.quick {
            ", QUICK (smoke run)"
        } else {
            ""
        }
    );
    if let Err(e) = run(&args, &mut report) {
        eprintln!("pipeline bench: {e}");
    }
    print_table(&report);
    let out = out_path();
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| {
            let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
            std::fs::write(&out, json)
        });
    match written {
        Ok(()) => println!("\nwrote {}", out.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out.display()),
    }
}

fn run(args: &Args, report: &mut Report) -> Result<(), String> {
    let passes = if args.quick { 1 } else { 5 };
    println!("\n[1/5] decode limit ({passes} passes, default decoder threads, then one)");
    let decode = offline::decode_limit(&args.clip, passes, 0)?;
    println!("{}", decode.line());
    report.decode = Some(decode.clone());
    let decode_one = offline::decode_limit(&args.clip, passes, 1)?;
    println!("{}", decode_one.line());
    report.decode_one_thread = Some(decode_one.clone());
    // The computed live limit takes whichever costs less CPU a frame: the machine's best.
    let cheapest = if decode_one.cpu_ms_per_frame < decode.cpu_ms_per_frame {
        decode_one
    } else {
        decode.clone()
    };

    println!("\n[2/5] inference limit");
    let runs = if args.quick { 10 } else { 150 };
    let inference = offline::inference_limit(args, runs)?;
    println!("{}", inference.line());
    report.inference = Some(inference.clone());

    let passes = if args.quick { 1 } else { 3 };
    println!("\n[3/5] offline pipeline ({passes} passes)");
    let pipeline = offline::pipeline(args, &decode, &inference, passes)?;
    println!("{}", pipeline.line());
    report.pipeline = Some(pipeline);

    if args.peer {
        println!("\n[peer] the Python peer on the same clip");
        let p = peer::run(args);
        report.peer = Some(p);
    }

    if args.live {
        println!("\n[4/5, 5/5] live capacity, latency and memory");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let l = rt.block_on(live::run(args, &cheapest, &inference))?;
        report.live = Some(l);
    }
    report.ratios = ratios(report);
    Ok(())
}

fn ratios(r: &Report) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let Some(p) = &r.peer else {
        return out;
    };
    let mut push = |name: &str, v: Option<f64>, peer: Option<f64>| {
        if let (Some(v), Some(peer)) = (v, peer)
            && peer > 0.0
        {
            out.push((name.to_string(), v / peer));
        }
    };
    push(
        "offline decoded frames/s (vigil/peer)",
        r.pipeline.as_ref().map(|x| x.decoded_per_s),
        p.offline.as_ref().map(|x| x.decoded_per_s),
    );
    push(
        "overhead ratio (vigil/peer)",
        r.pipeline.as_ref().map(|x| x.overhead),
        p.overhead,
    );
    push(
        "inferences/s (vigil/peer)",
        r.inference.as_ref().map(|x| x.per_s),
        p.infer.as_ref().map(|x| x.per_s),
    );
    push(
        "decode-only frames/s (vigil/peer)",
        r.decode.as_ref().map(|x| x.per_s),
        p.decode.as_ref().map(|x| x.decoded_per_s),
    );
    push(
        "live cameras (vigil/peer's 17)",
        r.live.as_ref().and_then(|l| l.capacity.map(|c| c as f64)),
        p.live_capacity.or(Some(peer::PEER_LIVE_CAPACITY)),
    );
    out
}

fn print_table(r: &Report) {
    println!("\n| measure | value | foreign CPU |");
    println!("|---|---|---|");
    let f = |c: &sys::CpuUse| format!("{:.2} cores", c.foreign_cores);
    for d in r.decode.iter().chain(&r.decode_one_thread) {
        println!(
            "| decode limit, {} | {:.0} frames/s ({:.2} ms wall, {:.2} ms CPU a frame; {}x{} @ {:.2} fps) | {} |",
            d.threads_label(),
            d.per_s,
            d.wall_ms_per_frame,
            d.cpu_ms_per_frame,
            d.width,
            d.height,
            d.clip_fps,
            f(&d.cpu)
        );
    }
    if let Some(i) = &r.inference {
        println!(
            "| inference limit | {:.1} inferences/s (mean {:.2} ms, median {:.2} ms, p90 {:.2} ms, {:.2} ms CPU) | {} |",
            i.per_s,
            i.mean_ms,
            i.median_ms,
            i.p90_ms,
            i.cpu_ms,
            f(&i.cpu)
        );
    }
    if let Some(p) = &r.pipeline {
        println!(
            "| offline pipeline | {:.0} frames/s decoded, {:.1} analysed/s; overhead ratio {:.2} (time), {:.2} (CPU) | {} |",
            p.decoded_per_s,
            p.analysed_per_s,
            p.overhead,
            p.cpu_overhead,
            f(&p.cpu)
        );
    }
    if let Some(l) = &r.live {
        l.print_rows();
    }
    if let Some(p) = &r.peer {
        p.print_rows();
    }
    for (name, v) in &r.ratios {
        println!("| {name} | {v:.2} | |");
    }
}
