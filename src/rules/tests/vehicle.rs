//! Per-vehicle rules: WRONG_WAY and STOPPED_VEHICLE.

use super::*;

type Case = (
    &'static str,
    Vec<(&'static str, f64)>,
    f64,
    Vec<Actor>,
    &'static str,
);

fn check(kind: IncidentKind, cases: Vec<Case>, sim: &Sim) {
    for (name, params, aspect, actors, want) in cases {
        let a = analytics(vec![rule(kind, &params)], vec![]);
        let run = Sim { aspect, ..*sim }.run(&a, &actors);
        assert_eq!(run.phases(), want, "{name}");
    }
}

/// A velocity of `speed` at `deg` degrees from straight up the frame (positive: to the right).
fn heading(speed: f64, deg: f64) -> [f64; 2] {
    let r = deg.to_radians();
    [speed * r.sin(), -speed * r.cos()]
}

#[test]
fn wrong_way_table() {
    // The lane runs down the frame (the default dx = 0, dy = 1): driving up is wrong.
    let car = |id, p0, v, from, to| moving(id, "car", p0, v, from, to);
    let up = [0.0, -0.1];
    let cases: Vec<Case> = vec![
        (
            "against the lane",
            vec![],
            1.0,
            vec![car(1, [0.5, 0.75], up, 0.0, 4.0)],
            "O1 C1",
        ),
        (
            "with the lane",
            vec![],
            1.0,
            vec![car(1, [0.5, 0.25], [0.0, 0.1], 0.0, 4.0)],
            "",
        ),
        (
            "standing still",
            vec![],
            1.0,
            vec![still(1, "car", [0.5, 0.5], 0.0, 4.0)],
            "",
        ),
        (
            "59 degrees off",
            vec![],
            1.0,
            vec![car(1, [0.3, 0.75], heading(0.1, 59.0), 0.0, 4.0)],
            "O1 C1",
        ),
        (
            "61 degrees off",
            vec![],
            1.0,
            vec![car(1, [0.3, 0.75], heading(0.1, 61.0), 0.0, 4.0)],
            "",
        ),
        (
            "0.09 of 0.1 frame heights",
            vec![("min_distance", 0.1)],
            1.0,
            vec![car(1, [0.5, 0.75], [0.0, -0.05], 0.0, 1.85)],
            "",
        ),
        (
            "0.105 of 0.1 frame heights",
            vec![("min_distance", 0.1)],
            1.0,
            vec![car(1, [0.5, 0.75], [0.0, -0.05], 0.0, 2.15)],
            "O1 C1",
        ),
        (
            "1.9 of 2 s",
            vec![("min_duration_s", 2.0)],
            1.0,
            vec![car(1, [0.5, 0.78], [0.0, -0.2], 0.0, 1.95)],
            "",
        ),
        (
            "2 of 2 s",
            vec![("min_duration_s", 2.0)],
            1.0,
            vec![car(1, [0.5, 0.78], [0.0, -0.2], 0.0, 2.05)],
            "O1 C1",
        ),
        (
            "sideways lane, 0.04 across a square frame",
            vec![("dx", 1.0), ("dy", 0.0)],
            1.0,
            vec![car(1, [0.7, 0.5], [-0.02, 0.0], 0.0, 2.05)],
            "",
        ),
        (
            "sideways lane, 0.04 across a 2:1 frame is 0.08 frame heights",
            vec![("dx", 1.0), ("dy", 0.0)],
            2.0,
            vec![car(1, [0.7, 0.5], [-0.02, 0.0], 0.0, 2.05)],
            "O1 C1",
        ),
        (
            "a person is not a vehicle",
            vec![],
            1.0,
            vec![moving(1, "person", [0.5, 0.75], up, 0.0, 4.0)],
            "",
        ),
        (
            "two cars, two incidents",
            vec![],
            1.0,
            vec![
                car(1, [0.4, 0.75], up, 0.0, 4.0),
                car(2, [0.6, 0.75], up, 0.0, 4.0),
            ],
            "O1 O2 C1 C2",
        ),
        (
            "outside the zone",
            vec![],
            1.0,
            vec![car(1, [0.9, 0.75], up, 0.0, 4.0)],
            "",
        ),
    ];
    check(IncidentKind::WrongWay, cases, &Sim::default());
}

#[test]
fn wrong_way_cooldown_is_per_vehicle() {
    // Against the lane, then with it (closes), then waits, then against it again.
    let again = |id| {
        vec![
            moving(id, "car", [0.5, 0.75], [0.0, -0.1], 0.0, 3.0),
            moving(id, "car", [0.5, 0.45], [0.0, 0.1], 3.0, 5.0),
            still(id, "car", [0.5, 0.65], 5.0, 9.0),
            moving(id, "car", [0.5, 0.65], [0.0, -0.1], 9.0, 12.0),
        ]
    };
    let cases: Vec<Case> = vec![
        ("within cooldown", vec![], 1.0, again(1), "O1 C1"),
        (
            "after cooldown",
            vec![("cooldown_s", 1.0)],
            1.0,
            again(1),
            "O1 C1 O2 C2",
        ),
        (
            "another car during the first one's cooldown",
            vec![],
            1.0,
            [
                again(1),
                vec![moving(2, "car", [0.3, 0.75], [0.0, -0.1], 9.0, 12.0)],
            ]
            .concat(),
            "O1 C1 O2 C2",
        ),
    ];
    check(IncidentKind::WrongWay, cases, &Sim::default());
}

#[test]
fn stopped_vehicle_table() {
    // dwell 5 s, tolerance 0.01 frame heights/s: stopped = within 0.05 of where it stopped.
    let p = || vec![("dwell_s", 5.0), ("motion_tolerance", 0.01)];
    let car = |v, to| moving(1, "car", [0.5, 0.4], v, 0.0, to);
    let cases: Vec<Case> = vec![
        ("parked 6 s", p(), 1.0, vec![car([0.0, 0.0], 6.0)], "O1 C1"),
        ("parked 4.9 s", p(), 1.0, vec![car([0.0, 0.0], 4.95)], ""),
        (
            "creeping 0.009 /s",
            p(),
            1.0,
            vec![car([0.0, 0.009], 8.0)],
            "O1 C1",
        ),
        (
            "rolling 0.02 /s",
            p(),
            1.0,
            vec![car([0.0, 0.02], 15.0)],
            "",
        ),
        ("driving through", p(), 1.0, vec![car([0.0, 0.1], 4.0)], ""),
        (
            "0.009 across a 2:1 frame is 0.018 frame heights /s",
            p(),
            2.0,
            vec![car([0.009, 0.0], 8.0)],
            "",
        ),
        (
            "a standing person is not a vehicle",
            p(),
            1.0,
            vec![still(1, "person", [0.5, 0.4], 0.0, 8.0)],
            "",
        ),
        (
            "parked outside the zone",
            p(),
            1.0,
            vec![still(1, "truck", [0.9, 0.4], 0.0, 8.0)],
            "",
        ),
        (
            "hidden for 2 s while parked",
            p(),
            1.0,
            vec![car([0.0, 0.0], 15.0).coasting(8.0, 10.0)],
            "O1 C1",
        ),
    ];
    check(IncidentKind::StoppedVehicle, cases, &Sim::default());
}

#[test]
fn parked_for_an_hour_is_one_incident() {
    let a = analytics(vec![rule(IncidentKind::StoppedVehicle, &[])], vec![]);
    let sim = Sim {
        fps: 1.0,
        until: 3700.0,
        ..Sim::default()
    };
    let run = sim.run(&a, &[still(7, "bus", [0.5, 0.5], 0.0, 3600.0)]);
    assert_eq!(run.phases(), "O1 C1");
    let (o, c) = (&run.events[0], &run.events[1]);
    assert_eq!((o.start, o.at), (secs(0.0), secs(30.0)));
    assert_eq!(c.end, Some(secs(3600.0)));
    assert_eq!(c.peak.get("dwell_s"), Some(&3599.0));
    assert_eq!(c.summary, "bus 7 stopped in zone lawn for 3600.0 s");
}
