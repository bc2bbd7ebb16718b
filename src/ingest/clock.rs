//! One camera's stream clock. Each pipeline's timestamps start wherever its source starts them;
//! the camera's frames and access units must instead share one clock that never goes backwards,
//! across reconnects, so the tracker, the rules and the clips see one continuous stream time.
//! Each new pipeline is offset past the previous one's last timestamp by the wall-clock time the
//! camera was away. Pure bookkeeping: no GStreamer, no I/O.
//!
//! Decode times: RTP carries presentation times only, so a stream with B-frames arrives without
//! DTS. The clock then derives one that increases strictly and stays at or below the pts as long
//! as frames are reordered by less than the learned reorder delay (at least [`DTS_LEAD`]):
//! `dts = max(pts - delay, previous dts + 1 µs)`, where `delay` is the largest amount by which a
//! frame's pts was seen to fall behind an earlier one's.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The smallest step between two pipelines' timestamps.
const MIN_GAP: Duration = Duration::from_millis(40);

/// The least reorder delay assumed for derived decode times.
pub const DTS_LEAD: Duration = Duration::from_millis(500);
const DTS_STEP: Duration = Duration::from_micros(1);

#[derive(Default)]
struct Inner {
    /// Camera time of this pipeline's origin.
    base: Duration,
    /// This pipeline's first timestamp, once seen.
    origin: Option<Duration>,
    /// The latest camera time handed out, and when.
    last: Option<(Duration, Instant)>,
    /// Decode-time derivation: the previous dts, this pipeline's largest pts, the reorder delay.
    last_dts: Option<Duration>,
    max_pts: Option<Duration>,
    delay: Duration,
}

#[derive(Default)]
pub struct StreamClock {
    inner: Mutex<Inner>,
}

impl StreamClock {
    pub fn new() -> StreamClock {
        StreamClock::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new pipeline starts: its timestamps will follow the previous pipeline's last one. The
    /// first pipeline starts at [`DTS_LEAD`], not 0, so that derived decode times (`pts - delay`)
    /// never have to be squeezed against zero: squeezed, the first units would get decode times
    /// 1 µs apart, and a clip cut from them zero-length samples (its muxed duration short).
    pub fn begin(&self) {
        let mut g = self.lock();
        g.origin = None;
        g.max_pts = None;
        g.base = match g.last {
            Some((last, at)) => last + at.elapsed().max(MIN_GAP) + DTS_LEAD,
            None => DTS_LEAD,
        };
    }

    /// The first timestamp of the current pipeline (the earliest of its first buffer's pts/dts).
    pub fn origin(&self, t: Duration) {
        let mut g = self.lock();
        if g.origin.is_none() {
            g.origin = Some(t);
        }
    }

    /// A pipeline timestamp on the camera clock.
    pub fn map(&self, t: Duration) -> Duration {
        let mut g = self.lock();
        let origin = *g.origin.get_or_insert(t);
        let out = g.base + t.saturating_sub(origin);
        if g.last.is_none_or(|(l, _)| out >= l) {
            g.last = Some((out, Instant::now()));
        }
        out
    }
}

impl StreamClock {
    /// The decode time of the unit at camera time `pts`, in decode order: the stream's own
    /// (`dts`, already on the camera clock) when it has one, else derived; strictly increasing.
    pub fn decode_time(&self, pts: Duration, dts: Option<Duration>) -> Duration {
        let mut g = self.lock();
        let max_pts = g.max_pts.map_or(pts, |m| m.max(pts));
        g.max_pts = Some(max_pts);
        g.delay = g.delay.max(max_pts - pts).max(DTS_LEAD);
        let want = dts.unwrap_or(pts.saturating_sub(g.delay));
        let out = match g.last_dts {
            Some(prev) if want <= prev => prev + DTS_STEP,
            _ => want,
        };
        g.last_dts = Some(out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back_across_pipelines() {
        let c = StreamClock::new();
        let ms = Duration::from_millis;
        c.begin();
        c.origin(ms(5_000));
        assert_eq!(c.map(ms(5_000)), DTS_LEAD);
        assert_eq!(c.map(ms(6_000)), DTS_LEAD + ms(1_000));
        // The next pipeline starts its own timestamps at 0 again.
        c.begin();
        c.origin(ms(0));
        let first = c.map(ms(0));
        assert!(first >= DTS_LEAD + ms(1_000) + MIN_GAP, "{first:?}");
        assert_eq!(c.map(ms(500)), first + ms(500));
        // A B-frame before the origin maps to the origin rather than before it.
        assert_eq!(c.map(ms(0)), first);
    }

    #[test]
    fn derived_decode_times_keep_the_frame_interval_from_the_first_frame() {
        // No B-frames, no DTS (RTP): every derived decode time is pts - DTS_LEAD, the first ones
        // included, so a clip from the stream's start has no zero-length samples.
        let c = StreamClock::new();
        c.begin();
        c.origin(Duration::ZERO);
        for i in 0..20u64 {
            let pts = c.map(Duration::from_millis(100 * i));
            assert_eq!(c.decode_time(pts, None), pts - DTS_LEAD, "frame {i}");
        }
    }

    #[test]
    fn derived_decode_times_increase_and_precede_pts() {
        let c = StreamClock::new();
        c.begin();
        c.origin(Duration::ZERO);
        // I P B B P B B at 10 fps in decode order, as pts in ms (reorder depth 2 frames).
        let pts = [0u64, 300, 100, 200, 600, 400, 500, 900, 700, 800];
        let mut prev = None;
        for p in pts {
            let pts = c.map(Duration::from_millis(p));
            let dts = c.decode_time(pts, None);
            assert!(dts <= pts, "{dts:?} > {pts:?}");
            assert!(prev.is_none_or(|d| dts > d));
            prev = Some(dts);
        }
        // A stream's own decode times are kept when they increase.
        let d = c.decode_time(Duration::from_secs(5), Some(Duration::from_secs(4)));
        assert_eq!(d, Duration::from_secs(4));
    }
}
