//! What `vigil analyze` prints: one line per analysed frame, then a summary; as human-readable
//! text or, with `--json`, one JSON object per line with a `"type"` field. The JSON format is a
//! stable interface that other programs parse (documented in README.md): add fields, never rename
//! or remove them.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::error::{ErrorKind, Result, ResultExt};
use crate::track::Track;

/// Text or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Totals over a whole run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub frames: u64,
    /// Stream time of the last analysed frame.
    pub duration: Duration,
    /// Detections per class label.
    pub detections: BTreeMap<String, u64>,
    /// Unique confirmed tracks per class label (a track counts under its final class).
    pub tracks: BTreeMap<String, u64>,
    /// Mean model run time per frame (pre-processing, inference, post-processing).
    pub mean_inference: Duration,
    pub model: String,
    /// With rules: incident events by phase (`opened`, `updated`, `closed`).
    pub incidents: Option<BTreeMap<String, u64>>,
    /// With rules: line-crossing totals `(line, class, direction, count)`.
    pub counts: Vec<(String, String, &'static str, u64)>,
}

impl Summary {
    /// Adds the totals of the incident rules.
    pub fn add_rules(&mut self, r: &super::OfflineRules) {
        self.incidents = Some(
            r.incidents
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        );
        self.counts = r
            .counts()
            .iter()
            .map(|(k, n)| (k.line_id.clone(), k.class.clone(), k.direction.as_str(), *n))
            .collect();
    }
}

/// Writes the lines of a run.
pub struct Printer<W: Write> {
    out: W,
    format: Format,
}

fn r4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

fn secs(t: Duration) -> f64 {
    (t.as_secs_f64() * 1e3).round() / 1e3
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: Format) -> Self {
        Printer { out, format }
    }

    /// The writer, once printing is done.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// One analysed frame: the tracked objects seen in it (coasting tracks are left out).
    pub fn frame(&mut self, t: Duration, tracks: &[Track], labels: &[String]) -> Result<()> {
        let seen = || tracks.iter().filter(|t| t.is_matched());
        let label = |c: u16| labels.get(usize::from(c)).map_or("?", |s| s.as_str());
        match self.format {
            Format::Json => {
                let objects: Vec<_> = seen()
                    .map(|t| {
                        json!({
                            "track_id": t.id,
                            "class": label(t.class_id),
                            "score": r4(t.score),
                            "box": t.bbox.map(r4),
                        })
                    })
                    .collect();
                let line = json!({"type": "frame", "t_s": secs(t), "objects": objects});
                self.line(&line.to_string())
            }
            Format::Human => {
                let mut s = format!("t={:>8.3}s {:>3} objects", t.as_secs_f64(), seen().count());
                for t in seen() {
                    let b = t.bbox;
                    s.push_str(&format!(
                        "  #{} {} {:.2} [{:.3},{:.3},{:.3},{:.3}]",
                        t.id,
                        label(t.class_id),
                        t.score,
                        b[0],
                        b[1],
                        b[2],
                        b[3]
                    ));
                }
                self.line(&s)
            }
        }
    }

    /// Any other JSON line (incidents, counts); in human format, `human` is printed instead.
    pub fn event(&mut self, json: &serde_json::Value, human: &str) -> Result<()> {
        match self.format {
            Format::Json => self.line(&json.to_string()),
            Format::Human => self.line(human),
        }
    }

    pub fn summary(&mut self, s: &Summary) -> Result<()> {
        let ms = s.mean_inference.as_secs_f64() * 1e3;
        match self.format {
            Format::Json => {
                let mut line = json!({
                    "type": "summary",
                    "model": s.model,
                    "frames": s.frames,
                    "duration_s": secs(s.duration),
                    "detections": s.detections,
                    "tracks": s.tracks,
                    "mean_inference_ms": (ms * 100.0).round() / 100.0,
                });
                if let Some(incidents) = &s.incidents {
                    line["incidents"] = json!(incidents);
                    line["counts"] = s
                        .counts
                        .iter()
                        .map(|(l, c, d, n)| {
                            json!({"line": l, "class": c, "direction": d, "count": n})
                        })
                        .collect();
                }
                self.line(&line.to_string())
            }
            Format::Human => {
                let fmt = |m: &BTreeMap<String, u64>| {
                    m.iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                self.line(&format!(
                    "summary: {} frames over {:.1} s with {}; mean inference {ms:.1} ms\n  detections: {}\n  unique tracks: {}",
                    s.frames,
                    s.duration.as_secs_f64(),
                    s.model,
                    fmt(&s.detections),
                    fmt(&s.tracks)
                ))?;
                if let Some(incidents) = &s.incidents {
                    self.line(&format!("  incident events: {}", fmt(incidents)))?;
                    for (l, c, d, n) in &s.counts {
                        self.line(&format!("  line {l}: {c} {d} {n}"))?;
                    }
                }
                Ok(())
            }
        }
    }

    fn line(&mut self, s: &str) -> Result<()> {
        writeln!(self.out, "{s}").ctx(ErrorKind::Unavailable, "writing to standard output")
    }
}
