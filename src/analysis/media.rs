//! The media of one opened incident: the snapshot (annotated and plain) of the newest native
//! frame, then the clip cut from the camera's pre-roll ring while the video arrives, to the
//! incident's end or its post-roll, whichever is later. Each
//! result is recorded in the incident log (`MEDIA` events), failures included. The work runs on
//! blocking threads; this task only waits for it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::CameraHandles;
use crate::camera::Analytics;
use crate::incidents::MediaUpdate;
use crate::incidents::model::{Clip, ClipState, SnapshotState};
use crate::media::clip::ClipUntil;
use crate::media::snapshot::{Annotation, write_snapshots};
use crate::media::{clip, paths};
use crate::rules::RuleEvent;

/// Wall time without new video after which a clip ends with what it has (the camera stalled).
const CLIP_STALL: Duration = Duration::from_secs(10);

/// Everything the media of one incident needs, taken when it opens.
pub(super) struct Job {
    h: CameraHandles,
    event: RuleEvent,
    annotation: Annotation,
}

/// `2026-12-04 07:00:05 UTC`: the snapshot caption's time.
fn fmt_time(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

impl Job {
    pub(super) fn new(h: &CameraHandles, analytics: &Analytics, ev: &RuleEvent) -> Job {
        let zone = analytics
            .zones
            .iter()
            .find(|z| z.id == ev.zone_id)
            .map(|z| z.polygon.clone())
            .unwrap_or_default();
        let line = analytics
            .lines
            .iter()
            .find(|l| l.id == ev.zone_id)
            .map(|l| (l.a, l.b));
        let boxes = ev
            .objects
            .iter()
            .map(|o| (o.bbox, format!("{} #{}", o.class, o.track_id)))
            .collect();
        let mut caption = format!(
            "{} | {} | {}",
            h.camera.id,
            ev.kind.as_str(),
            fmt_time(ev.wall_at(ev.at))
        );
        if !ev.zone_id.is_empty() {
            caption.push_str(&format!(" | {}", ev.zone_id));
        }
        Job {
            h: h.clone(),
            event: ev.clone(),
            annotation: Annotation {
                boxes,
                zone,
                line,
                caption,
            },
        }
    }

    /// Writes the snapshot, then the clip (to the incident's end as `until` tells, or its
    /// post-roll), recording each outcome for incident `id`.
    pub(super) async fn run(self, id: String, until: Arc<ClipUntil>, stop: Arc<AtomicBool>) {
        let log = self.h.deps.incidents.clone();
        let camera = self.h.camera.id.clone();
        let snapshot = {
            let (latest, data_dir) = (self.h.latest.clone(), self.h.deps.data_dir.clone());
            let (ann, q, id) = (
                self.annotation,
                self.h.deps.media.snapshot_quality,
                id.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let frame = latest.snapshot()?.ok_or_else(|| {
                    crate::err!(Unavailable, "no decoded frame to take a snapshot of")
                })?;
                write_snapshots(&frame, &ann, &data_dir, &id, q)
            })
            .await
        };
        let state = match snapshot {
            Ok(Ok(_)) => SnapshotState::Available,
            Ok(Err(error)) => {
                tracing::warn!(%camera, incident = %id, %error, "snapshot failed");
                SnapshotState::Failed
            }
            Err(error) => {
                tracing::error!(%camera, incident = %id, %error, "snapshot task failed");
                SnapshotState::Failed
            }
        };
        if let Err(error) = log.media_ready(&id, MediaUpdate::Snapshot(state)).await {
            tracing::error!(%camera, incident = %id, %error, "recording the snapshot");
        }

        let settings = self.h.deps.media.clip_settings(CLIP_STALL);
        let written = match paths::clip_path(&self.h.deps.data_dir, &id) {
            Ok(path) => {
                let ring = self.h.ring.clone();
                let start = self.event.start;
                tokio::task::spawn_blocking(move || {
                    clip::write_clip_until(&ring, start, &settings, &until, &path, &stop)
                })
                .await
                .unwrap_or_else(|e| Err(crate::err!(Internal, "clip task failed: {e}")))
            }
            Err(e) => Err(e),
        };
        let clip = match written {
            Ok(r) => Clip {
                state: ClipState::Ready,
                start: Some(self.event.wall_at(r.first_pts)),
                end: Some(self.event.wall_at(r.end_pts)),
            },
            Err(error) => {
                tracing::warn!(%camera, incident = %id, %error, "clip failed");
                Clip {
                    state: ClipState::Failed,
                    start: None,
                    end: None,
                }
            }
        };
        if let Err(error) = log.media_ready(&id, MediaUpdate::Clip(clip)).await {
            tracing::error!(%camera, incident = %id, %error, "recording the clip");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_times_are_utc_dates() {
        let day = |d: u64| std::time::UNIX_EPOCH + Duration::from_secs(d * 86_400);
        for (t, want) in [
            (day(0), "1970-01-01 00:00:00 UTC"),
            (day(59), "1970-03-01 00:00:00 UTC"),
            (day(11_016), "2000-02-29 00:00:00 UTC"),
            (
                day(20_791) + Duration::from_secs(25_205),
                "2026-12-04 07:00:05 UTC",
            ),
        ] {
            assert_eq!(fmt_time(t), want);
        }
    }
}
