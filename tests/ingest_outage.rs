//! Outages heal by themselves: stopping the test camera moves the camera to RETRYING with the
//! error and the next attempt time; starting it again on the same port brings it back to
//! STREAMING within the backoff bound. Twenty cycles leave no extra threads or open files.

mod common;
mod ingest_util;

use std::time::{Duration, Instant};

use ingest_util::{Sink, fast_config, start};
use vigil::ingest::{CameraState, TestCam, TestCamOptions};

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn twenty_outages_heal_without_leaks() {
    let Some(file) = common::vtest_avi() else {
        return;
    };
    let mut opts = TestCamOptions::new(&file);
    let server = TestCam::start(&opts).unwrap();
    opts.port = server.port();
    let cfg = fast_config();
    let cam = start("outage", &server.url(), None, &cfg, 5.0, 320, Sink::Record);
    cam.wait_for(CameraState::Streaming, Duration::from_secs(45));
    let mut server = Some(server);
    let mut baseline = None;
    // Generous: connecting over loopback is fast, but the machine is shared and slow.
    let heal_bound = cfg.backoff_max() + Duration::from_secs(20);
    for cycle in 0..20 {
        if let Some(s) = server.take() {
            s.stop();
        }
        let st = cam.wait_for(CameraState::Retrying, Duration::from_secs(30));
        assert!(!st.last_error.is_empty(), "cycle {cycle}: {st:?}");
        assert!(st.next_attempt.is_some(), "cycle {cycle}: {st:?}");
        server = Some(TestCam::start(&opts).unwrap());
        let t0 = Instant::now();
        let st = cam.wait_for(CameraState::Streaming, heal_bound);
        assert!(t0.elapsed() <= heal_bound);
        assert!(st.reconnects as usize > cycle, "cycle {cycle}: {st:?}");
        // Frames flow again on the same continuous clock.
        let frames = cam.record_for(Duration::from_millis(600));
        assert!(!frames.is_empty(), "cycle {cycle}: no frame after healing");
        if cycle == 2 {
            baseline = Some((count("/proc/self/task"), count("/proc/self/fd")));
        }
    }
    let (threads, fds) = baseline.unwrap();
    let (threads_now, fds_now) = (count("/proc/self/task"), count("/proc/self/fd"));
    // A leak of one thread or descriptor per cycle would add 17; allow pool jitter of a few.
    assert!(
        threads_now <= threads + 4,
        "threads {threads} -> {threads_now}"
    );
    assert!(fds_now <= fds + 4, "fds {fds} -> {fds_now}");
    let seen = cam.seen.lock().unwrap().clone();
    assert!(
        seen.windows(2).all(|w| w[0].pts < w[1].pts),
        "the camera clock went backwards across reconnects"
    );
    cam.stop();
}
