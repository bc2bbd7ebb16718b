//! Ingest settings (the `[ingest]` section of the service configuration): reconnect backoff, the
//! no-frame watchdog, the pre-roll ring and the analysis frame size and rate. This module owns
//! the defaults and their validation; it must never start a pipeline.

use std::time::Duration;

use serde::Deserialize;

use crate::bail;
use crate::error::Result;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// First reconnect delay in seconds, 0.01..=60. Default 1.
    pub backoff_min_s: f64,
    /// Largest reconnect delay in seconds (the delay doubles per failure up to this), at least
    /// `backoff_min_s`, at most 600. Default 30.
    pub backoff_max_s: f64,
    /// A camera connected but sending no frame for this many seconds is restarted, 1..=600.
    /// Default 10.
    pub watchdog_s: f64,
    /// Seconds of encoded video kept before "now" for clips, 0..=120. Default 10.
    pub pre_roll_s: f64,
    /// Byte budget of one camera's pre-roll ring, 1 MiB..=1 GiB. Default 64 MiB.
    pub ring_max_bytes: usize,
    /// Width of analysis frames (the height keeps the aspect ratio), 32..=3840. Default 640.
    pub analysis_width: u32,
    /// Analysed frames per second of a camera whose `analysis_fps` is 0, 0.1..=30. Default 5.
    pub default_fps: f64,
    /// `file://` cameras play at the file's own pace (true) or as fast as they decode (false).
    /// Default true.
    pub file_realtime: bool,
    /// Decoder threads per camera, 0..=16; 0 lets the decoder use one per core. Default 1: with
    /// several cameras the cameras are the parallelism, and each extra thread costs frames of
    /// memory and a hand-off per frame (see BENCHMARKS.md).
    pub decode_threads: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            backoff_min_s: 1.0,
            backoff_max_s: 30.0,
            watchdog_s: 10.0,
            pre_roll_s: 10.0,
            ring_max_bytes: 64 << 20,
            analysis_width: 640,
            default_fps: 5.0,
            file_realtime: true,
            decode_threads: 1,
        }
    }
}

fn range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        bail!(InvalidArgument, "{field}: {v} is outside {lo}..{hi}");
    }
    Ok(())
}

impl IngestConfig {
    /// Checks every field; errors name it with `prefix` (e.g. `ingest`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        range(
            &format!("{prefix}.backoff_min_s"),
            self.backoff_min_s,
            0.01,
            60.0,
        )?;
        range(
            &format!("{prefix}.backoff_max_s"),
            self.backoff_max_s,
            self.backoff_min_s,
            600.0,
        )?;
        range(&format!("{prefix}.watchdog_s"), self.watchdog_s, 1.0, 600.0)?;
        range(&format!("{prefix}.pre_roll_s"), self.pre_roll_s, 0.0, 120.0)?;
        if !((1 << 20)..=(1 << 30)).contains(&self.ring_max_bytes) {
            bail!(
                InvalidArgument,
                "{prefix}.ring_max_bytes: {} is outside 1048576..1073741824",
                self.ring_max_bytes
            );
        }
        if !(32..=3840).contains(&self.analysis_width) {
            bail!(
                InvalidArgument,
                "{prefix}.analysis_width: {} is outside 32..3840",
                self.analysis_width
            );
        }
        range(
            &format!("{prefix}.default_fps"),
            self.default_fps,
            0.1,
            30.0,
        )?;
        if self.decode_threads > 16 {
            bail!(
                InvalidArgument,
                "{prefix}.decode_threads: {} is outside 0..16",
                self.decode_threads
            );
        }
        Ok(())
    }

    pub fn backoff_min(&self) -> Duration {
        Duration::from_secs_f64(self.backoff_min_s)
    }

    pub fn backoff_max(&self) -> Duration {
        Duration::from_secs_f64(self.backoff_max_s)
    }

    pub fn watchdog(&self) -> Duration {
        Duration::from_secs_f64(self.watchdog_s)
    }

    pub fn pre_roll(&self) -> Duration {
        Duration::from_secs_f64(self.pre_roll_s)
    }

    /// The delay before reconnect attempt `failures` (1 = after the first failure): the minimum
    /// doubled per failure, capped at the maximum, then spread by up to a quarter either way with
    /// `jitter` in -1..1 so that cameras behind one failed switch do not reconnect in lockstep.
    pub fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30) as i32;
        let base = (self.backoff_min_s * 2f64.powi(exp)).min(self.backoff_max_s);
        let spread = base * (1.0 + 0.25 * jitter.clamp(-1.0, 1.0));
        Duration::from_secs_f64(spread.clamp(self.backoff_min_s * 0.75, self.backoff_max_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let c = IngestConfig::default();
        let secs: Vec<f64> = (1..=8).map(|n| c.backoff(n, 0.0).as_secs_f64()).collect();
        assert_eq!(secs, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        for n in 1..40 {
            for j in [-1.0, -0.3, 0.0, 0.7, 1.0] {
                let d = c.backoff(n, j).as_secs_f64();
                assert!((0.75..=30.0).contains(&d), "{n} {j} {d}");
            }
        }
        assert!(c.backoff(3, 1.0) > c.backoff(3, -1.0));
    }

    #[test]
    fn validation_names_the_field() {
        type Change = fn(&mut IngestConfig);
        let cases: [(Change, &str); 5] = [
            (|c| c.backoff_max_s = 0.5, "ingest.backoff_max_s"),
            (|c| c.watchdog_s = 0.0, "ingest.watchdog_s"),
            (|c| c.analysis_width = 8, "ingest.analysis_width"),
            (|c| c.default_fps = f64::NAN, "ingest.default_fps"),
            (|c| c.decode_threads = 17, "ingest.decode_threads"),
        ];
        for (change, field) in cases {
            let mut c = IngestConfig::default();
            change(&mut c);
            let e = c.validate("ingest").unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
        IngestConfig::default().validate("ingest").unwrap();
    }
}
