//! Decoded frames and the hand-off between ingest and analysis. A [`FrameSlot`] holds at most one
//! pending frame per camera with the policy *newest wins*: a new frame replaces one that analysis
//! has not taken yet, and the replaced frame is counted as dropped. Ingest never blocks on it.

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

/// A single-frame mailbox with newest-wins policy, counting replaced frames as drops.
#[derive(Default)]
pub struct FrameSlot {
    pending: Mutex<Option<Frame>>,
    offered: AtomicU64,
    dropped: AtomicU64,
}

impl FrameSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a frame in the slot, replacing (and counting) any frame not yet taken. Never blocks
    /// for longer than a pointer swap.
    pub fn offer(&self, frame: Frame) {
        self.offered.fetch_add(1, Ordering::Relaxed);
        let old = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(frame);
        if old.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the pending frame, if any.
    pub fn take(&self) -> Option<Frame> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub fn is_pending(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Frames offered so far.
    pub fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }

    /// Frames replaced before analysis took them.
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
    fn newest_wins_and_drops_are_counted() {
        let s = FrameSlot::new();
        assert!(s.take().is_none());
        s.offer(frame(0));
        s.offer(frame(1));
        s.offer(frame(2));
        assert_eq!(s.take().map(|f| f.seq), Some(2));
        assert!(s.take().is_none());
        assert_eq!((s.offered(), s.dropped()), (3, 2));
    }
}
