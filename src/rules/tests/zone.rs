//! Zone-level and camera-wide rules: INTRUSION, PEDESTRIAN_ON_ROAD, LOITERING, CROWD,
//! CONGESTION, CAMERA_OFFLINE, schedules and closing everything.

use std::time::SystemTime;

use chrono::TimeZone;

use super::*;
use crate::rules::engine::in_window;

const IN: [f64; 2] = [0.5, 0.5];
const IN2: [f64; 2] = [0.4, 0.4];
const OUT: [f64; 2] = [0.9, 0.5];

#[test]
fn intrusion_table() {
    let p = |id, at, from, to| still(id, "person", at, from, to);
    let cases: Vec<(&str, Params, Vec<Actor>, &str)> = vec![
        ("one person 5 s", &[], vec![p(1, IN, 0.0, 5.0)], "O1 C1"),
        ("0.4 s is too short", &[], vec![p(1, IN, 0.0, 0.45)], ""),
        ("0.5 s is enough", &[], vec![p(1, IN, 0.0, 0.55)], "O1 C1"),
        (
            "a car is not watched",
            &[],
            vec![still(1, "car", IN, 0.0, 5.0)],
            "",
        ),
        ("outside the zone", &[], vec![p(1, OUT, 0.0, 5.0)], ""),
        (
            "a second person joins",
            &[],
            vec![p(1, IN, 0.0, 10.0), p(2, IN2, 2.0, 10.0)],
            "O1 U1 C1",
        ),
        (
            "two arriving together open together",
            &[],
            vec![p(1, IN, 0.0, 10.0), p(2, IN2, 0.0, 10.0)],
            "O1 C1",
        ),
        (
            "coasting 2 s is bridged",
            &[],
            vec![p(1, IN, 0.0, 10.0).coasting(3.0, 5.0)],
            "O1 C1",
        ),
        (
            "out for 2 s and back",
            &[],
            vec![p(1, IN, 0.0, 4.0), p(1, OUT, 4.0, 6.0), p(1, IN, 6.0, 10.0)],
            "O1 C1",
        ),
        (
            "back after close, within cooldown",
            &[],
            vec![p(1, IN, 0.0, 4.0), p(1, OUT, 4.0, 9.0), p(1, IN, 9.0, 14.0)],
            "O1 C1",
        ),
        (
            "back after close and cooldown",
            &[("cooldown_s", 1.0)],
            vec![p(1, IN, 0.0, 4.0), p(1, OUT, 4.0, 9.0), p(1, IN, 9.0, 14.0)],
            "O1 C1 O2 C2",
        ),
        (
            "someone else during cooldown",
            &[],
            vec![p(1, IN, 0.0, 4.0), p(2, IN, 9.0, 14.0)],
            "O1 C1 O2 C2",
        ),
        (
            "clear_s 0 closes at once",
            &[("clear_s", 0.0), ("cooldown_s", 0.0)],
            vec![p(1, IN, 0.0, 4.0), p(1, OUT, 4.0, 4.5), p(1, IN, 4.5, 10.0)],
            "O1 C1 O2 C2",
        ),
    ];
    for (name, params, actors, want) in cases {
        let a = analytics(vec![rule(IncidentKind::Intrusion, params)], vec![]);
        let run = Sim::default().run(&a, &actors);
        assert_eq!(run.phases(), want, "{name}");
    }
}

#[test]
fn intrusion_event_contents() {
    let a = analytics(vec![rule(IncidentKind::Intrusion, &[])], vec![]);
    let run = Sim::default().run(
        &a,
        &[
            still(1, "person", IN, 1.0, 6.0),
            still(2, "person", IN2, 3.0, 6.0),
        ],
    );
    assert_eq!(run.phases(), "O1 U1 C1");
    let (o, u, c) = (&run.events[0], &run.events[1], &run.events[2]);
    let want = [
        // (event, start, at, end, objects, count peak)
        (o, 1.0, 1.5, None, 1, 1.0),
        (u, 1.0, 3.5, None, 2, 2.0),
        (c, 1.0, 9.0, Some(6.0), 2, 2.0),
    ];
    for (e, start, at, end, n, count) in want {
        assert_eq!(e.start, secs(start), "{:?}", e.phase);
        assert_eq!(e.at, secs(at), "{:?}", e.phase);
        assert_eq!(e.end, end.map(secs), "{:?}", e.phase);
        assert_eq!(e.objects.len(), n, "{:?}", e.phase);
        assert_eq!(e.peak.get("count"), Some(&count), "{:?}", e.phase);
        assert_eq!((e.camera_id.as_str(), e.zone_id.as_str()), ("cam", "lawn"));
        assert_eq!(e.severity, crate::rules::spec::Severity::Critical);
    }
    assert_eq!(o.objects[0].class, "person");
    assert_eq!(o.objects[0].bbox, [0.48, 0.42, 0.52, 0.5]);
    assert_eq!(o.summary, "1 person in zone lawn for 0.5 s");
    assert_eq!(c.summary, "2 persons in zone lawn for 5.0 s");
}

/// (name, kind, parameters, frames per second, actors, expected events)
type Row = (
    &'static str,
    IncidentKind,
    Params,
    f64,
    Vec<Actor>,
    &'static str,
);

#[test]
fn thresholds_table() {
    let p = |id, from, to| still(id, "person", IN, from, to);
    let car = |id, speed| {
        moving(
            id,
            "car",
            [0.3 + 0.1 * id as f64, 0.3],
            [0.0, speed],
            0.0,
            8.0,
        )
    };
    let crowd = |n: u64, to| {
        (1..=n)
            .map(|i| still(i, "person", [0.3 + 0.05 * i as f64, 0.5], 0.0, to))
            .collect::<Vec<_>>()
    };
    use IncidentKind::*;
    let cases: Vec<Row> = vec![
        (
            "pedestrian 1.9 s",
            PedestrianOnRoad,
            &[],
            10.0,
            vec![p(1, 0.0, 1.95)],
            "",
        ),
        (
            "pedestrian 2.0 s",
            PedestrianOnRoad,
            &[],
            10.0,
            vec![p(1, 0.0, 2.05)],
            "O1 C1",
        ),
        (
            "loitering 59 s",
            Loitering,
            &[],
            2.0,
            vec![p(1, 0.0, 59.5)],
            "",
        ),
        (
            "loitering 60 s",
            Loitering,
            &[],
            2.0,
            vec![p(1, 0.0, 60.5)],
            "O1 C1",
        ),
        (
            "crowd of 3",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            crowd(3, 5.0),
            "O1 C1",
        ),
        (
            "crowd of 2",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            crowd(2, 5.0),
            "",
        ),
        (
            "crowd for 1.9 s",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            crowd(3, 1.95),
            "",
        ),
        (
            "crowd grows",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            [crowd(3, 8.0), vec![still(9, "person", IN2, 4.0, 8.0)]].concat(),
            "O1 U1 C1",
        ),
        (
            "crowd with a detector gap while pending",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            [
                crowd(2, 5.0),
                vec![still(9, "person", IN2, 0.0, 5.0).coasting(1.0, 1.3)],
            ]
            .concat(),
            "O1 C1",
        ),
        (
            "crowd re-forms within cooldown",
            Crowd,
            &[("min_persons", 3.0), ("min_duration_s", 2.0)],
            10.0,
            [
                crowd(3, 4.0),
                (7..10).map(|i| still(i, "person", IN, 9.0, 14.0)).collect(),
            ]
            .concat(),
            "O1 C1",
        ),
        (
            "crowd re-forms after cooldown",
            Crowd,
            &[
                ("min_persons", 3.0),
                ("min_duration_s", 2.0),
                ("cooldown_s", 1.0),
            ],
            10.0,
            [
                crowd(3, 4.0),
                (7..10).map(|i| still(i, "person", IN, 9.0, 14.0)).collect(),
            ]
            .concat(),
            "O1 C1 O2 C2",
        ),
        (
            "congestion, slow",
            Congestion,
            &[("min_vehicles", 3.0), ("min_duration_s", 2.0)],
            10.0,
            vec![car(1, 0.01), car(2, 0.01), car(3, 0.01)],
            "O1 C1",
        ),
        (
            "congestion, too fast",
            Congestion,
            &[("min_vehicles", 3.0), ("min_duration_s", 2.0)],
            10.0,
            vec![car(1, 0.03), car(2, 0.03), car(3, 0.03)],
            "",
        ),
        (
            "congestion, too few",
            Congestion,
            &[("min_vehicles", 3.0), ("min_duration_s", 2.0)],
            10.0,
            vec![car(1, 0.01), car(2, 0.01)],
            "",
        ),
        (
            "congestion ignores persons",
            Congestion,
            &[("min_vehicles", 3.0), ("min_duration_s", 2.0)],
            10.0,
            [vec![car(1, 0.01), car(2, 0.01)], crowd(1, 8.0)].concat(),
            "",
        ),
    ];
    for (name, kind, params, fps, actors, want) in cases {
        let a = analytics(vec![rule(kind, params)], vec![]);
        let sim = Sim {
            fps,
            until: 80.0,
            ..Sim::default()
        };
        let run = sim.run(&a, &actors);
        assert_eq!(run.phases(), want, "{name}");
    }
}

#[test]
fn one_long_event_is_one_incident() {
    // A person stands in the zone for ten minutes; every zone rule raises exactly one incident.
    use IncidentKind::*;
    let rules = vec![
        rule(Intrusion, &[]),
        rule(Loitering, &[]),
        rule(Crowd, &[("min_persons", 2.0)]),
    ];
    let actors = [
        still(1, "person", IN, 0.0, 600.0),
        still(2, "person", IN2, 0.0, 600.0),
    ];
    let sim = Sim {
        fps: 2.0,
        until: 610.0,
        ..Sim::default()
    };
    let run = sim.run(&analytics(rules, vec![]), &actors);
    // Keys in opening order: intrusion at 0.5 s, crowd at 10 s, loitering at 60 s.
    assert_eq!(run.phases(), "O1 O2 O3 C1 C3 C2");
    let closed: Vec<(&str, f64)> = run
        .events
        .iter()
        .filter(|e| e.phase == Phase::Closed)
        .map(|e| (e.rule_id.as_str(), e.end.map_or(0.0, |d| d.as_secs_f64())))
        .collect();
    assert_eq!(
        closed,
        [
            ("r-intrusion", 600.0),
            ("r-loitering", 600.0),
            ("r-crowd", 600.0)
        ]
    );
}

#[test]
fn camera_offline_via_idle() {
    let a = analytics(
        vec![rule(IncidentKind::CameraOffline, &[("timeout_s", 5.0)])],
        vec![],
    );
    let mut run = Sim {
        until: 10.0,
        ..Sim::default()
    }
    .run(&a, &[]);
    assert_eq!(run.phases(), "");
    let wall = SystemTime::UNIX_EPOCH;
    let mut ev = Vec::new();
    let mut steps = Vec::new();
    for s in [11.0, 14.0, 15.0, 16.0] {
        run.engine.on_idle(secs(s), wall, &mut ev);
        steps.push(ev.len());
    }
    // Opens once, at the first tick 5 s after the last frame (9.9 s).
    assert_eq!(steps, [0, 0, 1, 1]);
    assert_eq!(
        (ev[0].phase, ev[0].start, ev[0].at),
        (Phase::Opened, secs(9.9), secs(15.0))
    );
    assert_eq!(ev[0].summary, "no frame for 5.1 s");
    let f = FrameInfo {
        t: secs(16.5),
        wall,
        aspect: 1.0,
    };
    run.engine.on_frame(f, &[], &mut ev, &mut Vec::new());
    run.engine.on_idle(secs(17.0), wall, &mut ev);
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[1].phase, ev[1].key, ev[1].end),
        (Phase::Closed, ev[0].key, Some(secs(16.5)))
    );

    // A camera that never sent a frame is offline from stream time zero.
    let mut engine = Engine::new("cam", &a, &labels());
    let mut ev = Vec::new();
    engine.on_idle(secs(4.0), wall, &mut ev);
    engine.on_idle(secs(5.0), wall, &mut ev);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].start, secs(0.0));
}

#[test]
fn window_table() {
    let night = Some((22 * 60, 6 * 60));
    let day = Some((6 * 60, 22 * 60));
    let cases = [
        (None, 0, true),
        (night, 23 * 60, true),
        (night, 3 * 60, true),
        (night, 6 * 60, false),
        (night, 12 * 60, false),
        (night, 22 * 60, true),
        (day, 23 * 60, false),
        (day, 6 * 60, true),
        (day, 21 * 60 + 59, true),
    ];
    for (w, m, want) in cases {
        assert_eq!(in_window(w, Some(m)), want, "{w:?} {m}");
    }
}

#[test]
fn schedule_uses_local_time() {
    let cases = [
        ("22:00-06:00", 23, "O1 C1"),
        ("22:00-06:00", 3, "O1 C1"),
        ("22:00-06:00", 12, ""),
        ("06:00-22:00", 23, ""),
        ("", 12, "O1 C1"),
    ];
    for (schedule, hour, want) in cases {
        let mut r = rule(IncidentKind::Intrusion, &[]);
        r.schedule = schedule.into();
        let wall: SystemTime = match chrono::Local.with_ymd_and_hms(2026, 6, 1, hour, 0, 0) {
            chrono::LocalResult::Single(t) => t.into(),
            other => panic!("local time {hour}:00 is {other:?}"),
        };
        let sim = Sim {
            wall,
            ..Sim::default()
        };
        let run = sim.run(
            &analytics(vec![r], vec![]),
            &[still(1, "person", IN, 0.0, 5.0)],
        );
        assert_eq!(run.phases(), want, "{schedule} at {hour}:00");
    }
}

#[test]
fn close_all_closes_what_is_open() {
    let a = analytics(
        vec![
            rule(IncidentKind::Intrusion, &[]),
            rule(
                IncidentKind::Crowd,
                &[("min_persons", 2.0), ("min_duration_s", 1.0)],
            ),
        ],
        vec![],
    );
    let mut run = Sim {
        until: 5.0,
        ..Sim::default()
    }
    .run(
        &a,
        &[
            still(1, "person", IN, 0.0, 60.0),
            still(2, "person", IN2, 0.0, 60.0),
        ],
    );
    assert_eq!(run.phases(), "O1 O2");
    let mut ev = Vec::new();
    run.engine
        .close_all(secs(5.0), SystemTime::UNIX_EPOCH, &mut ev);
    let got: Vec<(Phase, u64, Option<std::time::Duration>)> =
        ev.iter().map(|e| (e.phase, e.key, e.end)).collect();
    assert_eq!(
        got,
        [
            (Phase::Closed, 1, Some(secs(5.0))),
            (Phase::Closed, 2, Some(secs(5.0)))
        ]
    );
    run.engine
        .close_all(secs(6.0), SystemTime::UNIX_EPOCH, &mut ev);
    assert_eq!(ev.len(), 2, "nothing left to close");
}
