//! Media settings (the `[media]` section of the service configuration): how much video a clip
//! holds around its incident and how snapshots are encoded. This module owns the defaults and
//! their validation; it must never write a file.

use std::time::Duration;

use serde::Deserialize;

use super::clip::ClipSettings;
use crate::bail;
use crate::error::Result;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Seconds of video a clip keeps before its incident starts, 0..=`ingest.pre_roll_s` (the
    /// ring cannot give more). The clip starts on the key frame at or before. Default 5.
    pub clip_pre_roll_s: f64,
    /// Seconds of video a clip keeps after its incident starts, at least (it runs to the
    /// incident's end when that is later), 0..=600. Default 10.
    pub clip_post_roll_s: f64,
    /// Longest clip in seconds, 1..=600; a clip that would be longer (a long incident, or
    /// pre-roll plus post-roll) is cut there.
    /// Default 60.
    pub clip_max_s: f64,
    /// JPEG quality of snapshots, 1..=100. Default 85.
    pub snapshot_quality: u8,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            clip_pre_roll_s: 5.0,
            clip_post_roll_s: 10.0,
            clip_max_s: 60.0,
            snapshot_quality: 85,
        }
    }
}

fn range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        bail!(InvalidArgument, "{field}: {v} is outside {lo}..{hi}");
    }
    Ok(())
}

impl MediaConfig {
    /// Checks every field; errors name it with `prefix` (e.g. `media`). `ingest_pre_roll_s` is
    /// what the camera's ring keeps (`ingest.pre_roll_s`).
    pub fn validate(&self, prefix: &str, ingest_pre_roll_s: f64) -> Result<()> {
        range(
            &format!("{prefix}.clip_pre_roll_s"),
            self.clip_pre_roll_s,
            0.0,
            120.0,
        )?;
        if self.clip_pre_roll_s > ingest_pre_roll_s {
            bail!(
                InvalidArgument,
                "{prefix}.clip_pre_roll_s: {} is more than ingest.pre_roll_s ({ingest_pre_roll_s}), \
                 the video the camera's ring keeps",
                self.clip_pre_roll_s
            );
        }
        range(
            &format!("{prefix}.clip_post_roll_s"),
            self.clip_post_roll_s,
            0.0,
            600.0,
        )?;
        range(&format!("{prefix}.clip_max_s"), self.clip_max_s, 1.0, 600.0)?;
        if !(1..=100).contains(&self.snapshot_quality) {
            bail!(
                InvalidArgument,
                "{prefix}.snapshot_quality: {} is outside 1..100",
                self.snapshot_quality
            );
        }
        Ok(())
    }

    /// The clip writer's settings; `wait_limit` is how long a stalled stream may keep a clip
    /// open (the ingest watchdog is a good value: after it the camera reconnects anyway).
    pub fn clip_settings(&self, wait_limit: Duration) -> ClipSettings {
        ClipSettings {
            pre_roll: Duration::from_secs_f64(self.clip_pre_roll_s),
            post_roll: Duration::from_secs_f64(self.clip_post_roll_s),
            max_len: Duration::from_secs_f64(self.clip_max_s),
            wait_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        type Change = fn(&mut MediaConfig);
        let cases: [(Change, &str); 6] = [
            (|c| c.clip_pre_roll_s = 11.0, "media.clip_pre_roll_s"),
            (|c| c.clip_pre_roll_s = -1.0, "media.clip_pre_roll_s"),
            (|c| c.clip_post_roll_s = f64::NAN, "media.clip_post_roll_s"),
            (|c| c.clip_max_s = 0.5, "media.clip_max_s"),
            (|c| c.snapshot_quality = 0, "media.snapshot_quality"),
            (|c| c.snapshot_quality = 101, "media.snapshot_quality"),
        ];
        for (change, field) in cases {
            let mut c = MediaConfig::default();
            change(&mut c);
            let e = c.validate("media", 10.0).unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
        MediaConfig::default().validate("media", 10.0).unwrap();
        // The default pre-roll needs a ring of at least 5 s.
        let e = MediaConfig::default().validate("media", 4.0).unwrap_err();
        assert!(e.to_string().contains("ingest.pre_roll_s"), "{e}");
    }

    #[test]
    fn clip_settings_carry_the_seconds() {
        let s = MediaConfig::default().clip_settings(Duration::from_secs(10));
        assert_eq!(
            (s.pre_roll, s.post_roll, s.max_len, s.wait_limit),
            (
                Duration::from_secs(5),
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(10)
            )
        );
    }
}
