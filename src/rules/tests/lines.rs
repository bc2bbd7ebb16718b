//! Line-crossing counts: direction, direction filter, jitter, once per track per line.

use super::*;

fn walk(id: u64, class: &'static str, x: f64, y0: f64, vy: f64, from: f64, to: f64) -> Actor {
    moving(id, class, [x, y0], [0.0, vy], from, to)
}

/// A person standing on the line, its bottom centre alternating `amp` above and below it.
fn jitter(amp: f64) -> Vec<Actor> {
    (0..40)
        .map(|k| {
            let y = if k % 2 == 0 { 0.5 + amp } else { 0.5 - amp };
            still(1, "person", [0.5, y], k as f64 * 0.1, (k + 1) as f64 * 0.1)
        })
        .collect()
}

/// Expected totals: ("line class DIRECTION", count).
type Counts = &'static [(&'static str, u64)];

#[test]
fn line_counts_table() {
    use LineDirection::*;
    let down = |id, class| walk(id, class, 0.5, 0.3, 0.1, 0.0, 4.0);
    let up = |id, class| walk(id, class, 0.5, 0.7, -0.1, 0.0, 4.0);
    const LTR: &str = "gate person LEFT_TO_RIGHT";
    const RTL: &str = "gate person RIGHT_TO_LEFT";
    let cases: Vec<(&str, LineDirection, Vec<Actor>, Counts)> = vec![
        (
            "down the frame is left to right",
            Both,
            vec![down(1, "person")],
            &[(LTR, 1)],
        ),
        (
            "up the frame is right to left",
            Both,
            vec![up(1, "person")],
            &[(RTL, 1)],
        ),
        ("filtered out", LeftToRight, vec![up(1, "person")], &[]),
        ("allowed", LeftToRight, vec![down(1, "person")], &[(LTR, 1)]),
        (
            "filtered out the other way",
            RightToLeft,
            vec![down(1, "person")],
            &[],
        ),
        (
            "both ways, two people",
            Both,
            vec![down(1, "person"), up(2, "person")],
            &[(LTR, 1), (RTL, 1)],
        ),
        (
            "per class",
            Both,
            vec![down(1, "person"), down(2, "car"), down(3, "car")],
            &[("gate car LEFT_TO_RIGHT", 2), (LTR, 1)],
        ),
        ("jitter on the line", Both, jitter(0.006), &[]),
        (
            "wobbling across counts once",
            Both,
            jitter(0.02),
            &[(RTL, 1)],
        ),
        (
            "there and back counts once",
            Both,
            vec![
                down(1, "person"),
                walk(1, "person", 0.5, 0.7, -0.1, 4.0, 8.0),
            ],
            &[(LTR, 1)],
        ),
        (
            "beyond the end of the line",
            Both,
            vec![walk(1, "person", 0.9, 0.3, 0.1, 0.0, 4.0)],
            &[],
        ),
        (
            "unseen while crossing",
            Both,
            vec![down(1, "person").coasting(1.5, 2.5)],
            &[(LTR, 1)],
        ),
    ];
    for (name, direction, actors, want) in cases {
        let a = analytics(
            vec![],
            vec![line("gate", [0.2, 0.5], [0.8, 0.5], direction)],
        );
        let run = Sim::default().run(&a, &actors);
        let want: BTreeMap<String, u64> = want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        assert_eq!(counts(&run.engine), want, "{name}");
        let total: u64 = want.values().sum();
        assert_eq!(run.crossings.len() as u64, total, "{name}");
        assert!(run.events.is_empty(), "{name}: crossings are not incidents");
    }
}

#[test]
fn crossing_record() {
    let a = analytics(
        vec![],
        vec![line("gate", [0.2, 0.5], [0.8, 0.5], LineDirection::Both)],
    );
    let run = Sim::default().run(&a, &[walk(4, "truck", 0.5, 0.305, 0.1, 0.0, 4.0)]);
    assert_eq!(
        run.crossings,
        [Crossing {
            line_id: "gate".into(),
            track_id: 4,
            class: "truck".into(),
            direction: crate::rules::CrossDirection::LeftToRight,
            // 0.495 and 0.505 (1.9 s, 2.0 s) are inside the jitter band; 0.515 at 2.1 s is past it.
            t: secs(2.1),
        }]
    );
}
