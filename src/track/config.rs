//! The tracker's settings: thresholds of the two association stages, birth and death of tracks,
//! the motion model's noise, and which classes may share a track. Defaults suit the bundled COCO
//! models at a 5 fps analysis rate; each default is documented beside its field.

use serde::Deserialize;

use crate::bail;
use crate::error::Result;

/// Settings of one [`Tracker`](super::Tracker). Every field is optional in a config file; unknown
/// fields are rejected. [`TrackerConfig::validate`] names the first field that is out of range.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Detections scoring at least this are "high" and take part in the first association stage
    /// (against all confirmed tracks, lost ones included) and may start tracks. Default 0.5.
    pub high_score: f32,
    /// Detections scoring at least this but below `high_score` are "low": they can only extend a
    /// confirmed track that was matched in the previous update (ByteTrack's second stage), never
    /// start one. Detections below it are ignored. Default 0.1.
    pub low_score: f32,
    /// An unmatched high detection starts a tentative track only when it scores at least this.
    /// Default 0.6.
    pub new_track_score: f32,
    /// Least IoU between a track's predicted box and a high detection for a first-stage match.
    /// Default 0.2.
    pub match_iou_high: f32,
    /// Least IoU between a track's predicted box and a low detection for a second-stage match.
    /// Default 0.5.
    pub match_iou_low: f32,
    /// Least IoU between a tentative track's predicted box and a left-over high detection. Low,
    /// because a tentative track does not yet know its velocity and objects move far between
    /// frames at 5 fps. Default 0.1.
    pub match_iou_tentative: f32,
    /// Matched updates (the first detection included) a tentative track needs before it is
    /// confirmed, gets an id and is reported. A tentative track that misses one update is
    /// dropped. 1 confirms on the first detection. Default 3.
    pub min_hits: u32,
    /// A confirmed track survives this many consecutive updates without a match (it coasts on its
    /// predicted motion and can be re-found with its id) and is removed on the next miss.
    /// Default 15 (3 s at 5 fps).
    pub max_misses: u32,
    /// A confirmed track is also removed once this many seconds of stream time have passed since
    /// its last match, however few updates there were (dropped frames, a stalled stream).
    /// Default 3.0.
    pub max_lost_s: f64,
    /// Most bottom-centre points kept in a track's trajectory; the oldest are dropped first.
    /// Default 50 (10 s at 5 fps).
    pub trajectory_len: usize,
    /// Standard deviation of a detection's centre and size, as a fraction of the box's size
    /// (width for x, height for y). Larger values smooth more and follow less. Default 0.05.
    pub measurement_noise: f32,
    /// Standard deviation of the random acceleration of a box's centre, in box sizes per second
    /// squared (the Kalman filter's process noise, scaled by the real time between frames).
    /// Larger values follow turns faster and smooth velocity less. Default 0.5: at 5 fps with
    /// boxes jittering by 3% of their size, velocity is then within about 0.07 box sizes per
    /// second (rms) and follows a sudden start within about 0.6 s.
    pub accel_noise: f32,
    /// The same for the box's width and height, which change more slowly. Default 0.2.
    pub size_accel_noise: f32,
    /// Groups of class ids that may match each other's tracks because detectors confuse them; any
    /// other pair of different classes never shares a track. Default `[[2, 5, 7]]`: COCO car,
    /// bus and truck.
    pub class_groups: Vec<Vec<u16>>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_iou_high: 0.2,
            match_iou_low: 0.5,
            match_iou_tentative: 0.1,
            min_hits: 3,
            max_misses: 15,
            max_lost_s: 3.0,
            trajectory_len: 50,
            measurement_noise: 0.05,
            accel_noise: 0.5,
            size_accel_noise: 0.2,
            class_groups: vec![vec![2, 5, 7]],
        }
    }
}

/// Largest `trajectory_len` accepted.
pub const MAX_TRAJECTORY_LEN: usize = 10_000;

impl TrackerConfig {
    /// Checks every field; the error names the field (prefixed with `field_prefix`, such as
    /// `"track."`) and its allowed range.
    pub fn validate(&self, field_prefix: &str) -> Result<()> {
        let p = field_prefix;
        for (name, v) in [
            ("high_score", self.high_score),
            ("low_score", self.low_score),
            ("new_track_score", self.new_track_score),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!(InvalidArgument, "{p}{name}: {v} is outside 0..1");
            }
        }
        if self.low_score > self.high_score {
            bail!(
                InvalidArgument,
                "{p}low_score: {} is above high_score {}",
                self.low_score,
                self.high_score
            );
        }
        for (name, v) in [
            ("match_iou_high", self.match_iou_high),
            ("match_iou_low", self.match_iou_low),
            ("match_iou_tentative", self.match_iou_tentative),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bail!(InvalidArgument, "{p}{name}: {v} is outside (0, 1]");
            }
        }
        if self.min_hits == 0 {
            bail!(InvalidArgument, "{p}min_hits: must be at least 1");
        }
        if !(self.max_lost_s > 0.0 && self.max_lost_s <= 3600.0) {
            bail!(
                InvalidArgument,
                "{p}max_lost_s: {} is outside (0, 3600]",
                self.max_lost_s
            );
        }
        if !(1..=MAX_TRAJECTORY_LEN).contains(&self.trajectory_len) {
            bail!(
                InvalidArgument,
                "{p}trajectory_len: {} is outside 1..{MAX_TRAJECTORY_LEN}",
                self.trajectory_len
            );
        }
        for (name, v) in [
            ("measurement_noise", self.measurement_noise),
            ("accel_noise", self.accel_noise),
            ("size_accel_noise", self.size_accel_noise),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                bail!(InvalidArgument, "{p}{name}: {v} is outside (0, 100]");
            }
        }
        let mut seen: Vec<(u16, usize)> = Vec::new();
        for (g, group) in self.class_groups.iter().enumerate() {
            for &c in group {
                if let Some(&(_, other)) = seen.iter().find(|(s, _)| *s == c) {
                    if other == g {
                        bail!(
                            InvalidArgument,
                            "{p}class_groups[{g}]: class {c} is listed twice"
                        );
                    }
                    bail!(
                        InvalidArgument,
                        "{p}class_groups[{g}]: class {c} is already in class_groups[{other}]"
                    );
                }
                seen.push((c, g));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        TrackerConfig::default().validate("track.").unwrap();
    }

    #[test]
    fn parses_partial_toml_and_rejects_unknown_fields() {
        let c: TrackerConfig = toml::from_str("min_hits = 2\nclass_groups = [[1, 3]]").unwrap();
        assert_eq!(c.min_hits, 2);
        assert_eq!(c.class_groups, vec![vec![1, 3]]);
        assert_eq!(c.max_misses, TrackerConfig::default().max_misses);
        let e = toml::from_str::<TrackerConfig>("max_age = 3").unwrap_err();
        assert!(e.to_string().contains("max_age"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        type Edit = fn(&mut TrackerConfig);
        let cases: &[(Edit, &str)] = &[
            (
                |c| c.high_score = 1.5,
                "track.high_score: 1.5 is outside 0..1",
            ),
            (
                |c| c.low_score = f32::NAN,
                "track.low_score: NaN is outside 0..1",
            ),
            (
                |c| c.low_score = 0.7,
                "track.low_score: 0.7 is above high_score 0.5",
            ),
            (
                |c| c.match_iou_low = 0.0,
                "track.match_iou_low: 0 is outside (0, 1]",
            ),
            (|c| c.min_hits = 0, "track.min_hits: must be at least 1"),
            (
                |c| c.max_lost_s = -1.0,
                "track.max_lost_s: -1 is outside (0, 3600]",
            ),
            (
                |c| c.trajectory_len = 0,
                "track.trajectory_len: 0 is outside 1..10000",
            ),
            (
                |c| c.accel_noise = f32::INFINITY,
                "track.accel_noise: inf is outside (0, 100]",
            ),
            (
                |c| c.class_groups = vec![vec![2, 2]],
                "track.class_groups[0]: class 2 is listed twice",
            ),
            (
                |c| c.class_groups = vec![vec![2, 7], vec![1, 7]],
                "track.class_groups[1]: class 7 is already in class_groups[0]",
            ),
        ];
        for (edit, want) in cases {
            let mut c = TrackerConfig::default();
            edit(&mut c);
            let e = c.validate("track.").unwrap_err();
            assert_eq!(e.msg(), *want);
        }
    }
}
