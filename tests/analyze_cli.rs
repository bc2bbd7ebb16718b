//! `vigil analyze` as a user runs it: the real binary on Debian's vtest.avi (a fresh clone has
//! it after setup) with the default model. Its `--json` output is an interface other programs
//! parse: every line on standard output is one JSON object with a `"type"`; frames carry `t_s`
//! and `objects` (`track_id`, `class`, `score`, `box`), and the last line is the summary. Bad
//! input exits non-zero with a message naming it, and prints nothing on standard output.

mod common;

use std::process::Command;

use serde_json::Value;

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

#[test]
fn json_lines_follow_the_documented_format() {
    let Some(clip) = common::vtest_avi() else {
        return;
    };
    let out = vigil()
        .args(["analyze", "--json", "--max-seconds", "4"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (summary, frames) = lines.split_last().unwrap();
    assert_eq!(summary["type"], "summary");
    // 4 s at the default 5 fps.
    assert!((19..=21).contains(&frames.len()), "{} frames", frames.len());
    assert_eq!(summary["frames"].as_u64(), Some(frames.len() as u64));
    let mut last_t = -1.0;
    let mut people = 0;
    for f in frames {
        assert_eq!(f["type"], "frame");
        let t = f["t_s"].as_f64().unwrap();
        assert!(t > last_t, "{t} after {last_t}");
        last_t = t;
        for o in f["objects"].as_array().unwrap() {
            assert!(o["track_id"].as_u64().unwrap() >= 1);
            let score = o["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score));
            let b: Vec<f64> = o["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(b.len() == 4 && b[0] < b[2] && b[1] < b[3], "{b:?}");
            assert!(b.iter().all(|v| (0.0..=1.0).contains(v)), "{b:?}");
            people += usize::from(o["class"] == "person");
        }
    }
    // The PETS scene has several people walking in view the whole time.
    assert!(people >= 2 * frames.len(), "{people} person sightings");
    let unique = summary["tracks"]["person"].as_u64().unwrap();
    assert!((2..=40).contains(&unique), "{unique} person tracks");
}

#[test]
fn bad_input_is_named_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let not_video = dir.path().join("notes.txt");
    std::fs::write(&not_video, "not a video").unwrap();
    let missing = dir.path().join("missing.mp4");
    let cases: [(Vec<String>, &str); 3] = [
        (vec![missing.display().to_string()], "no such file"),
        (vec![not_video.display().to_string()], "notes.txt"),
        (
            vec![
                "--model".into(),
                "no-such-model".into(),
                missing.display().to_string(),
            ],
            "missing.mp4",
        ),
    ];
    for (args, want) in cases {
        let out = vigil().arg("analyze").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
