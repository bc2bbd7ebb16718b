//! Broken cameras end in RETRYING with a clear error while a healthy camera beside them keeps its
//! frame rate: an unreachable URL, a TCP server answering garbage bytes, and a wrong password.
//! Also: analysis slower than input drops (and counts) frames instead of queueing them.

mod common;
mod ingest_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use ingest_util::{Sink, fast_config, rate, start};
use vigil::camera::Credentials;
use vigil::frame::SLOT_FRAMES;
use vigil::ingest::{CameraState, TestCam, TestCamOptions};

/// A TCP server that answers every connection with bytes that are not RTSP.
fn garbage_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = s.read(&mut buf);
                let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
                let _ = s.write_all(&junk);
                std::thread::sleep(Duration::from_secs(2));
            });
        }
    });
    port
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn broken_cameras_retry_while_a_healthy_one_keeps_its_rate() {
    let Some(file) = common::vtest_avi() else {
        return;
    };
    let cfg = fast_config();
    let healthy_server = TestCam::start(&TestCamOptions::new(&file)).unwrap();
    let healthy = start(
        "healthy",
        &healthy_server.url(),
        None,
        &cfg,
        5.0,
        320,
        Sink::Record,
    );
    healthy.wait_for(CameraState::Streaming, Duration::from_secs(45));
    let mut locked = TestCamOptions::new(&file);
    locked.credentials = Some(("viewer".into(), "right-password".into()));
    let locked_server = TestCam::start(&locked).unwrap();
    let wrong = Some(Credentials {
        username: "viewer".into(),
        password: "wrong-password".into(),
    });
    let broken = [
        (
            "unreachable",
            format!("rtsp://127.0.0.1:{}/stream", closed_port()),
            None,
        ),
        (
            "garbage",
            format!("rtsp://127.0.0.1:{}/stream", garbage_server()),
            None,
        ),
        ("wrong-password", locked_server.url(), wrong),
    ];
    let cams: Vec<_> = broken
        .into_iter()
        .map(|(id, url, creds)| start(id, &url, creds, &cfg, 5.0, 320, Sink::Record))
        .collect();
    let frames = healthy.record_for(Duration::from_secs(6));
    // What each error must say (GStreamer's words for it).
    let says = [
        ("unreachable", "connect"),
        ("garbage", "Parse error"),
        ("wrong-password", "Unauthorized"),
    ];
    for (cam, (id, needle)) in cams.iter().zip(says) {
        let st = cam.wait_for(CameraState::Retrying, Duration::from_secs(30));
        eprintln!("{}: {}", cam.id, st.last_error);
        assert_eq!(cam.id, id);
        assert!(st.last_error.contains(needle), "{id}: {}", st.last_error);
        assert!(st.last_error.contains("rtsp://127.0.0.1:"), "{st:?}");
        assert!(!st.last_error.contains("wrong-password"), "{st:?}");
        assert!(
            st.next_attempt
                .is_some_and(|t| t > SystemTime::now() - Duration::from_secs(5))
        );
        assert_eq!(st.frames_in, 0);
    }
    let r = rate(&frames);
    assert!((3.5..=5.75).contains(&r), "healthy camera rate {r:.2}");
    assert_eq!(healthy.status().state, CameraState::Streaming);
    for c in cams {
        c.stop();
    }
    healthy.stop();
}

#[test]
fn slow_analysis_drops_and_counts_frames() {
    let Some(file) = common::vtest_avi() else {
        return;
    };
    let server = TestCam::start(&TestCamOptions::new(&file)).unwrap();
    let cam = start(
        "slow",
        &server.url(),
        None,
        &fast_config(),
        5.0,
        320,
        Sink::Slot,
    );
    cam.wait_for(CameraState::Streaming, Duration::from_secs(45));
    // Analysis empties the slot every 800 ms while frames arrive every 200 ms.
    let mut rounds: Vec<Vec<u64>> = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(800));
        let mut round = Vec::new();
        while let Some(f) = cam.slot.take() {
            let age = SystemTime::now()
                .duration_since(f.arrived)
                .unwrap_or_default();
            // The slot keeps the newest two frames: what analysis gets is never stale.
            assert!(age < Duration::from_millis(800), "a frame waited {age:?}");
            round.push(f.seq);
        }
        // Oldest first, never more than the slot holds (a frame arriving meanwhile may be a
        // third, taken after the first two).
        assert!(round.windows(2).all(|w| w[1] > w[0]), "{round:?}");
        assert!(round.len() <= SLOT_FRAMES + 1, "{round:?}");
        rounds.push(round);
    }
    let taken: Vec<u64> = rounds.iter().flatten().copied().collect();
    assert!(
        rounds.iter().filter(|r| !r.is_empty()).count() >= 4,
        "{rounds:?}"
    );
    // Between two rounds about four frames arrived and at most two were kept: frames dropped.
    assert!(
        rounds
            .windows(2)
            .filter_map(|w| Some((*w[0].last()?, *w[1].first()?)))
            .all(|(a, b)| b > a + 1),
        "no frame was skipped: {rounds:?}"
    );
    std::thread::sleep(Duration::from_millis(1200)); // the next status refresh
    let st = cam.status();
    assert!(st.frames_dropped >= taken.len() as u64, "{st:?}");
    assert_eq!(st.frames_dropped, cam.slot.dropped().min(st.frames_dropped));
    cam.stop();
}
