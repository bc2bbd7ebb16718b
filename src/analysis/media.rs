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

fn fmt_time(t: std::time::SystemTime) -> String {
    let s = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (s / 86400, s % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    fn civil_dates() {
        for (days, want) in [
            (0, (1970, 1, 1)),
            (59, (1970, 3, 1)),
            (11_016, (2000, 2, 29)),
            (20_791, (2026, 12, 4)),
        ] {
            assert_eq!(civil_from_days(days), want, "{days}");
        }
    }
}
