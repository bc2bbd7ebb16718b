//! The Python peer (`../shared/peer`, OpenCV + onnxruntime + numpy) measured beside vigil in the
//! same run, on the same clip and model: offline `peer.py` (with and without inference) and
//! `infer_bench.py`; `live_capacity.py` only with `--peer-live` (minutes per camera count). The
//! peer runs in the venv its README describes (`$HOME/peer-venv`, or `VIGIL_PEER_PYTHON`); when it
//! is missing, the output says so and vigil's numbers stand alone.

use std::path::PathBuf;
use std::process::Command;

use serde::Serialize;

use super::sys::{CpuMeter, CpuUse};
use super::{Args, common};

/// Cameras the peer sustained live on this machine (its README, 2026-12-03), used for the ratio
/// when `--peer-live` is not given.
pub const PEER_LIVE_CAPACITY: f64 = 17.0;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Offline {
    pub frames_decoded: u64,
    pub frames_analysed: u64,
    pub loop_s: f64,
    pub decoded_per_s: f64,
    pub cpu: CpuUse,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Infer {
    pub per_s: f64,
    pub mean_ms: f64,
    /// What `infer_bench.py` printed.
    pub output: String,
    pub cpu: CpuUse,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Peer {
    /// Why the peer did not run, if it did not.
    pub missing: Option<String>,
    pub offline: Option<Offline>,
    /// `peer.py --no-infer`: the peer's decode limit.
    pub decode: Option<Offline>,
    pub infer: Option<Infer>,
    /// offline loop time / (decode-only loop time + analysed x mean inference).
    pub overhead: Option<f64>,
    pub live_capacity: Option<f64>,
    pub live_output: Option<String>,
}

impl Peer {
    pub fn print_rows(&self) {
        if let Some(why) = &self.missing {
            println!("| peer | not run: {why} | |");
            return;
        }
        let f = |c: &CpuUse| format!("{:.2} cores", c.foreign_cores);
        if let Some(d) = &self.decode {
            println!(
                "| peer decode only (peer.py --no-infer) | {:.0} frames/s | {} |",
                d.decoded_per_s,
                f(&d.cpu)
            );
        }
        if let Some(i) = &self.infer {
            println!(
                "| peer inference (infer_bench.py) | {:.1} inferences/s (mean {:.2} ms) | {} |",
                i.per_s,
                i.mean_ms,
                f(&i.cpu)
            );
        }
        if let Some(o) = &self.offline {
            println!(
                "| peer offline (peer.py) | {:.0} frames/s decoded, {} analysed; overhead ratio {} | {} |",
                o.decoded_per_s,
                o.frames_analysed,
                self.overhead.map_or("?".into(), |v| format!("{v:.2}")),
                f(&o.cpu)
            );
        }
        match self.live_capacity {
            Some(n) => println!("| peer live capacity (live_capacity.py) | {n} cameras | |"),
            None => println!(
                "| peer live capacity | {PEER_LIVE_CAPACITY} cameras (its README; --peer-live measures it) | |"
            ),
        }
    }
}

fn python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("VIGIL_PEER_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let p = PathBuf::from(home).join("peer-venv/bin/python");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: set up the peer's venv as ../shared/peer/README.md says",
            p.display()
        ))
    }
}

/// Runs a peer script; returns its stdout and the CPU used meanwhile (the peer is a child, so
/// its CPU is own, not foreign).
fn script(
    py: &PathBuf,
    args: &[String],
    yolov12n: Option<&PathBuf>,
) -> Result<(String, CpuUse), String> {
    let dir = common::shared_dir().join("peer");
    let mut cmd = Command::new(py);
    cmd.current_dir(&dir).args(args);
    if let Some(p) = yolov12n {
        cmd.env("YOLOV12N", p);
    }
    let meter = CpuMeter::start(&[]);
    let out = cmd
        .output()
        .map_err(|e| format!("{} {}: {e}", py.display(), args.join(" ")))?;
    let cpu = meter.read();
    if !out.status.success() {
        return Err(format!(
            "peer {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), cpu))
}

fn offline(
    py: &PathBuf,
    a: &Args,
    model: &str,
    extra: &[&str],
    v12: Option<&PathBuf>,
) -> Result<Offline, String> {
    let mut argv = vec![
        "peer.py".to_string(),
        a.clip.display().to_string(),
        "--model".into(),
        model.into(),
        "--every".into(),
        a.every.to_string(),
        "--threads".into(),
        a.threads.to_string(),
        "--json".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let (out, cpu) = script(py, &argv, v12)?;
    let line = out.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("peer.py printed {out:?}: {e}"))?;
    Ok(Offline {
        frames_decoded: v["frames_decoded"].as_u64().unwrap_or(0),
        frames_analysed: v["frames_analysed"].as_u64().unwrap_or(0),
        loop_s: v["loop_s"].as_f64().unwrap_or(0.0),
        decoded_per_s: v["decoded_per_s"].as_f64().unwrap_or(0.0),
        cpu,
    })
}

/// `key=<number>` in `text`, the first one.
fn field(text: &str, key: &str) -> Option<f64> {
    let at = text.find(key)? + key.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

pub fn run(a: &Args) -> Peer {
    let mut p = Peer::default();
    let py = match python() {
        Ok(py) => py,
        Err(why) => {
            println!("peer: {why}");
            p.missing = Some(why);
            return p;
        }
    };
    let (model, v12) = match a.model.as_str() {
        "yolox_nano" => ("yolox", None),
        "yolov12n" => (
            "yolov12n",
            Some(common::default_model_dir().join("yolov12n.onnx")),
        ),
        other => {
            p.missing = Some(format!(
                "the peer knows yolox_nano and yolov12n, not {other}"
            ));
            return p;
        }
    };
    let v12 = v12.as_ref();
    let note = |what: &str, e: String| {
        println!("peer {what}: {e}");
    };
    match offline(&py, a, model, &["--no-infer"], v12) {
        Ok(d) => {
            println!("peer decode only: {:.0} frames/s", d.decoded_per_s);
            p.decode = Some(d);
        }
        Err(e) => note("decode", e),
    }
    let runs = if a.quick { "10" } else { "150" };
    let ib = vec![
        "infer_bench.py".to_string(),
        model.into(),
        a.threads.to_string(),
        runs.into(),
    ];
    match script(&py, &ib, v12) {
        Ok((out, cpu)) => {
            print!("peer infer_bench: {out}");
            p.infer = Some(Infer {
                per_s: field(&out, "inf/s(mean)=").unwrap_or(0.0),
                mean_ms: field(&out, "mean=").unwrap_or(0.0),
                output: out,
                cpu,
            });
        }
        Err(e) => note("infer_bench", e),
    }
    match offline(&py, a, model, &[], v12) {
        Ok(o) => {
            println!(
                "peer offline: {:.0} frames/s decoded, {} analysed in {:.2} s",
                o.decoded_per_s, o.frames_analysed, o.loop_s
            );
            p.offline = Some(o);
        }
        Err(e) => note("offline", e),
    }
    if let (Some(o), Some(d), Some(i)) = (&p.offline, &p.decode, &p.infer) {
        let ideal = d.loop_s + o.frames_analysed as f64 * i.mean_ms / 1e3;
        if ideal > 0.0 {
            p.overhead = Some(o.loop_s / ideal);
        }
    }
    if a.peer_live {
        let argv: Vec<String> = ["live_capacity.py", "16", "17", "18", "--threads"]
            .iter()
            .map(|s| s.to_string())
            .chain([a.threads.to_string(), "--duration".into(), "60".into()])
            .collect();
        match script(&py, &argv, v12) {
            Ok((out, _)) => {
                println!("peer live_capacity:\n{out}");
                // Rows read `N=17 KEEPS UP ...` or `N=18 FALLS BEHIND ...`.
                p.live_capacity = out
                    .lines()
                    .filter(|l| l.contains("KEEPS UP"))
                    .filter_map(|l| field(l, "N="))
                    .reduce(f64::max);
                p.live_output = Some(out);
            }
            Err(e) => note("live_capacity", e),
        }
    }
    p
}
