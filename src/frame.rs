//! Decoded frames and the hand-off between ingest and analysis. A [`FrameSlot`] holds at most
//! [`SLOT_FRAMES`] pending frames per camera, taken oldest first; when it is full a new frame
//! pushes out the oldest one analysis has not taken, which is counted as dropped (the newest
//! always wins). Ingest never blocks on it.
//! A [`Thumbnail`] is a small grey copy of a frame for image statistics (tampering detection).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Pixel storage of a frame: any owner of bytes (a mapped GStreamer buffer, a pooled `Vec`).
pub type FrameData = Box<dyn AsRef<[u8]> + Send + Sync>;

/// One decoded RGB24 frame.
pub struct Frame {
    /// Per-camera sequence number of analysis frames, from 0.
    pub seq: u64,
    /// Stream time (presentation timestamp from the start of the stream).
    pub pts: Duration,
    /// Wall-clock time the frame reached vigil.
    pub arrived: SystemTime,
    pub width: u32,
    pub height: u32,
    /// Bytes per row (at least `width * 3`).
    pub stride: usize,
    pub data: FrameData,
}

impl Frame {
    /// The RGB24 bytes, `stride * height` long.
    pub fn rgb(&self) -> &[u8] {
        (*self.data).as_ref()
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("seq", &self.seq)
            .field("pts", &self.pts)
            .field("size", &(self.width, self.height))
            .finish()
    }
}

/// Width of a [`Thumbnail`]; frames narrower than this keep their width.
pub const THUMB_WIDTH: u32 = 128;

/// A small grey copy of a frame: [`THUMB_WIDTH`] pixels wide (or the frame's width if smaller),
/// the height following the frame's aspect ratio, each pixel the area average of the frame's
/// full-range luma (BT.601 weights) under it. Row-major, `width * height` bytes. A frame whose
/// buffer is shorter than its size says gives an empty (0 x 0) thumbnail.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub luma: Vec<u8>,
}

impl Thumbnail {
    pub fn from_frame(frame: &Frame) -> Thumbnail {
        let mut t = Thumbnail::default();
        t.fill_from(frame);
        t
    }

    /// Makes this the thumbnail of `frame`, reusing the buffer (no allocation once it is large
    /// enough).
    pub fn fill_from(&mut self, frame: &Frame) {
        let (w, h, stride) = (frame.width as usize, frame.height as usize, frame.stride);
        let rgb = frame.rgb();
        let usable = w > 0
            && h > 0
            && stride >= w * 3
            && rgb.len() >= stride * (h - 1) + w * 3
            && w <= u32::MAX as usize / 256;
        self.luma.clear();
        if !usable {
            self.width = 0;
            self.height = 0;
            return;
        }
        let tw = w.min(THUMB_WIDTH as usize);
        let th = ((h * tw + w / 2) / w).clamp(1, h);
        self.width = tw as u32;
        self.height = th as u32;
        self.luma.resize(tw * th, 0);
        // Source column where each output column starts (and, last, the frame's width).
        let mut starts = [0usize; THUMB_WIDTH as usize + 1];
        for (tx, s) in starts[..=tw].iter_mut().enumerate() {
            *s = tx * w / tw;
        }
        let starts = &starts[..=tw];
        // Sums of 256 * luma per output column of the current output row.
        let mut acc = [0u64; THUMB_WIDTH as usize];
        let acc = &mut acc[..tw];
        for (ty, out) in self.luma.chunks_exact_mut(tw).enumerate() {
            let (y0, y1) = (ty * h / th, (ty + 1) * h / th);
            acc.fill(0);
            for y in y0..y1 {
                let row = &rgb[y * stride..y * stride + w * 3];
                for (a, x) in acc.iter_mut().zip(starts.windows(2)) {
                    let (x0, x1) = (x[0], x[1]);
                    let mut sum = 0u32;
                    for px in row[x0 * 3..x1 * 3].chunks_exact(3) {
                        if let [r, g, b] = *px {
                            sum += 77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b);
                        }
                    }
                    *a += u64::from(sum);
                }
            }
            for ((o, a), x) in out.iter_mut().zip(acc.iter()).zip(starts.windows(2)) {
                let n = ((x[1] - x[0]) * (y1 - y0) * 256) as u64;
                *o = ((a + n / 2) / n).min(255) as u8;
            }
        }
    }
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("size", &(self.width, self.height))
            .finish()
    }
}

/// Frames a [`FrameSlot`] holds. Two, so that a camera whose turn at a detector comes a little
/// more than one analysis period late (another camera's inference, a burst of decoding) loses no
/// frame; analysis that is behind for longer drops frames rather than queueing them, and a frame
/// waits at most two turns.
pub const SLOT_FRAMES: usize = 2;

/// A bounded mailbox of [`SLOT_FRAMES`] frames, oldest taken first; when full, the oldest is
/// dropped (and counted) for the newest.
pub struct FrameSlot {
    pending: Mutex<VecDeque<Frame>>,
    offered: AtomicU64,
    dropped: AtomicU64,
}

impl Default for FrameSlot {
    fn default() -> Self {
        FrameSlot {
            pending: Mutex::new(VecDeque::with_capacity(SLOT_FRAMES)),
            offered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

impl FrameSlot {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Frame>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts a frame in the slot; when it is full the oldest frame not yet taken is dropped (and
    /// counted). Never blocks for longer than moving a frame handle; never allocates.
    pub fn offer(&self, frame: Frame) {
        self.offered.fetch_add(1, Ordering::Relaxed);
        let old = {
            let mut q = self.lock();
            let old = if q.len() >= SLOT_FRAMES {
                q.pop_front()
            } else {
                None
            };
            q.push_back(frame);
            old
        };
        // The dropped frame's buffer is released outside the lock.
        if old.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the oldest pending frame, if any.
    pub fn take(&self) -> Option<Frame> {
        self.lock().pop_front()
    }

    pub fn is_pending(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Frames waiting to be taken (at most [`SLOT_FRAMES`]).
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Frames offered so far.
    pub fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }

    /// Frames pushed out before analysis took them.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame {
            seq,
            pts: Duration::ZERO,
            arrived: SystemTime::UNIX_EPOCH,
            width: 1,
            height: 1,
            stride: 3,
            data: Box::new(vec![0u8; 3]),
        }
    }

    #[test]
    fn oldest_first_newest_wins_and_drops_are_counted() {
        let s = FrameSlot::new();
        assert!(s.take().is_none());
        assert!(!s.is_pending());
        for seq in 0..5 {
            s.offer(frame(seq));
        }
        // Two kept, oldest first: 0, 1 and 2 were pushed out.
        assert_eq!(s.pending(), 2);
        assert_eq!(s.take().map(|f| f.seq), Some(3));
        s.offer(frame(5));
        assert_eq!(s.take().map(|f| f.seq), Some(4));
        assert_eq!(s.take().map(|f| f.seq), Some(5));
        assert!(s.take().is_none());
        assert_eq!(s.pending(), 0);
        assert_eq!((s.offered(), s.dropped()), (6, 3));
    }

    /// A `width x height` frame with `pad` spare bytes per row, pixel (x, y) = `px(x, y)`.
    fn rgb_frame(width: u32, height: u32, pad: usize, px: impl Fn(u32, u32) -> [u8; 3]) -> Frame {
        let stride = width as usize * 3 + pad;
        let mut data = vec![0xAAu8; stride * height as usize];
        for y in 0..height {
            for x in 0..width {
                let i = y as usize * stride + x as usize * 3;
                data[i..i + 3].copy_from_slice(&px(x, y));
            }
        }
        Frame {
            seq: 0,
            pts: Duration::ZERO,
            arrived: SystemTime::UNIX_EPOCH,
            width,
            height,
            stride,
            data: Box::new(data),
        }
    }

    #[test]
    fn thumbnail_size_follows_the_aspect_ratio() {
        // (frame size, thumbnail size)
        let table = [
            ((640, 480), (128, 96)),
            ((1920, 1080), (128, 72)),
            ((320, 240), (128, 96)),
            ((100, 50), (100, 50)),
            ((1000, 3), (128, 1)),
            ((1, 1), (1, 1)),
        ];
        for ((w, h), want) in table {
            let t = Thumbnail::from_frame(&rgb_frame(w, h, 0, |_, _| [1, 2, 3]));
            assert_eq!((t.width, t.height), want, "{w}x{h}");
            assert_eq!(t.luma.len(), (want.0 * want.1) as usize);
        }
    }

    #[test]
    fn thumbnail_is_the_area_average_of_luma() {
        // (colour, luma): full-range BT.601 in 8-bit fixed point.
        let table = [
            ([0, 0, 0], 0),
            ([255, 255, 255], 255),
            ([255, 0, 0], 77),
            ([0, 255, 0], 149),
            ([0, 0, 255], 29),
            ([100, 100, 100], 100),
        ];
        for (rgb, want) in table {
            let t = Thumbnail::from_frame(&rgb_frame(256, 64, 5, |_, _| rgb));
            assert!(
                t.luma.iter().all(|&v| v == want),
                "{rgb:?}: {:?}",
                &t.luma[..4]
            );
        }
        // 256 wide -> 128: each thumbnail pixel averages a 2x2 block. Columns alternating 0 and
        // 255 average to 127.5, rounded to 128.
        let t = Thumbnail::from_frame(&rgb_frame(256, 64, 7, |x, _| {
            if x % 2 == 0 { [0; 3] } else { [255; 3] }
        }));
        assert!(t.luma.iter().all(|&v| v == 128), "{:?}", &t.luma[..4]);
        // A vertical step at x = 128 of the frame lands between thumbnail columns 63 and 64;
        // the padding bytes (0xAA) never leak in.
        let t = Thumbnail::from_frame(&rgb_frame(256, 64, 9, |x, _| {
            if x < 128 { [10; 3] } else { [200; 3] }
        }));
        for row in t.luma.chunks_exact(128) {
            assert!(row[..64].iter().all(|&v| v == 10) && row[64..].iter().all(|&v| v == 200));
        }
    }

    #[test]
    fn fill_from_reuses_the_buffer_and_follows_size_changes() {
        let mut t = Thumbnail::from_frame(&rgb_frame(640, 480, 0, |_, _| [50; 3]));
        let cap = t.luma.capacity();
        let ptr = t.luma.as_ptr();
        t.fill_from(&rgb_frame(640, 360, 0, |_, _| [60; 3]));
        assert_eq!((t.width, t.height, t.luma[0]), (128, 72, 60));
        assert_eq!((t.luma.capacity(), t.luma.as_ptr()), (cap, ptr));
        // A frame whose buffer is too short for its size gives an empty thumbnail, no panic.
        let mut short = rgb_frame(64, 64, 0, |_, _| [1; 3]);
        short.height = 65;
        t.fill_from(&short);
        assert_eq!((t.width, t.height, t.luma.len()), (0, 0, 0));
        short.height = 0;
        assert_eq!(Thumbnail::from_frame(&short).luma.len(), 0);
    }
}
