//! Media retention: a periodic task that deletes the snapshots and clips of the oldest incidents
//! first, while they are older than the configured age or the media folder is over its disk
//! budget, and marks their media EXPIRED through the log (an event like any other). Incident
//! records are kept. Files are named only through `media::paths`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::{IncidentLog, MediaUpdate};
use crate::config::RetentionSettings;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::media::paths;

/// Most incidents examined per pass (a pass that hits it continues at the next interval).
const PASS_LIMIT: usize = 10_000;

/// Every file an incident's media may occupy, finished or being written.
fn media_files(data_dir: &Path, id: &str) -> Result<Vec<PathBuf>> {
    let snap = paths::snapshot_path(data_dir, id, true)?;
    let raw = paths::snapshot_path(data_dir, id, false)?;
    let clip = paths::clip_path(data_dir, id)?;
    let part = paths::partial_path(&clip);
    Ok(vec![snap, raw, clip, part])
}

fn size_of(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// One pass: returns the ids whose media were deleted and marked expired, oldest first.
pub async fn run_once(
    log: &IncidentLog,
    data_dir: &Path,
    cfg: &RetentionSettings,
    now: SystemTime,
) -> Result<Vec<String>> {
    let store = log.store().clone();
    let dir = data_dir.to_path_buf();
    let (max_age, budget) = (cfg.max_media_age, cfg.max_media_bytes);
    // Decide and delete on the blocking pool (file system and SQLite).
    let doomed = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
        let incidents = store.incidents_with_media(PASS_LIMIT)?;
        let mut sized = Vec::with_capacity(incidents.len());
        for i in incidents {
            let files = media_files(&dir, &i.id)?;
            let size = size_of(&files);
            sized.push((i, files, size));
        }
        let mut total: u64 = sized.iter().map(|s| s.2).sum();
        let mut doomed = Vec::new();
        for (inc, files, size) in sized {
            let too_old = max_age
                .is_some_and(|a| now.duration_since(inc.start_time).unwrap_or(Duration::ZERO) > a);
            let over = budget.is_some_and(|b| total > b);
            if !too_old && !over {
                break; // everything after is newer
            }
            for f in &files {
                match std::fs::remove_file(f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e)
                            .ctx(ErrorKind::Internal, format!("deleting {}", f.display()));
                    }
                }
            }
            total = total.saturating_sub(size);
            doomed.push(inc.id);
        }
        Ok(doomed)
    })
    .await
    .ctx(ErrorKind::Internal, "retention task failed")??;
    for id in &doomed {
        log.media_ready(id, MediaUpdate::Expired).await?;
        tracing::info!(incident = %id, "media expired");
    }
    Ok(doomed)
}

/// Runs a pass every `cfg.interval` until `stop` turns true.
pub async fn run(
    log: IncidentLog,
    data_dir: PathBuf,
    cfg: RetentionSettings,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    if cfg.max_media_age.is_none() && cfg.max_media_bytes.is_none() {
        let _ = stop.wait_for(|s| *s).await;
        return Ok(());
    }
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        if let Err(e) = run_once(&log, &data_dir, &cfg, SystemTime::now()).await {
            tracing::warn!(error = %e, "retention pass failed; retrying at the next interval");
        }
    }
}
