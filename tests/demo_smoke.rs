//! `vigil demo` as a newcomer runs it, through the real binary: it transcodes Debian's PETS 2009
//! clip, serves it from the built-in test camera over RTSP, registers the demo camera through the
//! API and, within a minute, reports at least one incident with a snapshot and a clip, whose files
//! are in the data directory. Needs only what setup installs (opencv-doc's vtest.avi, the default
//! model).

mod common;

use std::process::Command;

fn count(dir: &std::path::Path, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == ext))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_minute_of_demo_gives_an_incident_with_snapshot_and_clip() {
    if common::vtest_avi().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--duration", "60", "--grpc-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let totals = stdout
        .lines()
        .find_map(|l| l.strip_prefix("vigil demo: ")?.strip_suffix("; stopping"))
        .unwrap_or_else(|| panic!("no totals line: {stdout}\n{stderr}"));
    let n: Vec<usize> = totals
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(n.iter().all(|&k| k >= 1), "{totals}\n{stdout}");
    assert!(stdout.contains(" OPENED "), "{stdout}");
    let media = dir.path().join("media");
    assert!(count(&media.join("snapshots"), "jpg") >= 2, "{stdout}");
    assert!(count(&media.join("clips"), "mp4") >= 1, "{stdout}");
    assert_eq!(count(&media.join("clips"), "part"), 0, "half clips left");
}
