//! Multi-object tracking, one [`Tracker`] per camera: turns each analysed frame's detections into
//! tracks with a stable id, a smoothed box, a velocity and a short trajectory.
//!
//! The method is ByteTrack's: a constant-velocity Kalman filter per track (`kalman`), stepped by
//! the real stream time between frames; two-stage association, high-confidence detections first
//! against every confirmed track (lost ones included), then low-confidence detections against the
//! tracks still unmatched that were seen in the previous frame; optimal assignment on `1 - IoU`
//! (`assign`), gated by class so that a person never takes a car's track. Tracks are born
//! tentative, confirmed after `min_hits` matches, coast while unseen and die after `max_misses`.
//!
//! This module is pure computation: no I/O, no clock (time is passed in), no video, no detector,
//! store or protocol types. It must never allocate per frame in steady state; scratch buffers live
//! in the [`Tracker`].

mod assign;
mod config;
mod kalman;
#[cfg(test)]
mod tests;
mod tracker;

use std::collections::VecDeque;
use std::time::Duration;

pub use config::{MAX_TRAJECTORY_LEN, TrackerConfig};
pub use tracker::Tracker;

/// A confirmed track as reported by [`Tracker::update`]. Coordinates are normalised to the frame
/// (0..1, y pointing down), like [`Detection`](crate::detect::Detection)'s.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Starts at 1 and is never reused within the tracker's life. Given at confirmation, so
    /// tentative tracks that never confirm do not use up ids.
    pub id: u64,
    /// The class with the highest total detection score over the track's matches; stable against
    /// a detector that flickers between confusable classes (car/truck).
    pub class_id: u16,
    /// Score of the most recent detection matched to the track.
    pub score: f32,
    /// Kalman-smoothed box `[x1, y1, x2, y2]`, clipped to the frame. For a coasting track
    /// (`misses > 0`) this is the predicted box.
    pub bbox: [f32; 4],
    /// Velocity of the box's bottom centre `[vx, vy]` in normalised units per second.
    pub velocity: [f32; 2],
    /// Stream time of the track's first detection (before confirmation).
    pub first_seen: Duration,
    /// Stream time of the track's most recent matched detection.
    pub last_seen: Duration,
    /// Updates in which a detection was matched to the track.
    pub hits: u32,
    /// Consecutive updates without a match, up to the latest one: 0 means the object was detected
    /// in the latest frame; more means the track is coasting on its predicted motion.
    pub misses: u32,
    /// Smoothed bottom-centre points of the matched updates, oldest first, at most
    /// `trajectory_len` of them (older ones are dropped). Coasting updates add no point.
    pub trajectory: VecDeque<(Duration, [f32; 2])>,
}

impl Track {
    /// True when a detection was matched to the track in the latest update.
    pub fn is_matched(&self) -> bool {
        self.misses == 0
    }

    /// The bottom centre of [`Track::bbox`], where the object touches the ground.
    pub fn bottom_centre(&self) -> [f32; 2] {
        bottom_centre(self.bbox)
    }
}

fn bottom_centre(b: [f32; 4]) -> [f32; 2] {
    [(b[0] + b[2]) / 2.0, b[3]]
}
