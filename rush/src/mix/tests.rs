//! The generated mix: one course per slot for every student, the groups'
//! fixed eligibility, the same mix for the same seed, and the phased mix's
//! cohorts, blocks and phases.

use super::*;

fn params() -> MixParams {
    MixParams {
        students: 500,
        requests: 6,
        hot_per_slot: 2,
        hot_capacity: 10,
        hot_share: 0.4,
        normal_per_slot: 5,
        clash_share: 0.1,
        credit_share: 0.04,
        seed: 7,
        scenario: Scenario::Default,
    }
}

#[test]
fn every_student_requests_one_course_per_slot() {
    let mix = Mix::generate(&params(), "T");
    assert_eq!(mix.rush.len(), 500 * 6);
    let mut per_student = vec![Vec::new(); 500];
    for &(s, c) in &mix.rush {
        per_student[s].push(c);
    }
    for courses in per_student {
        let meetings: Vec<&[Meeting]> = courses
            .iter()
            .map(|&c| &mix.courses[c].meetings[..])
            .collect();
        for (i, a) in meetings.iter().enumerate() {
            for b in &meetings[i + 1..] {
                assert!(!clashes(a, b), "a student's requests never clash");
            }
        }
    }
    let hot_requests = mix
        .rush
        .iter()
        .filter(|&&(_, c)| matches!(mix.courses[c].kind, Kind::Hot { .. }))
        .count();
    assert!((900..1500).contains(&hot_requests), "{hot_requests}");
}

#[test]
fn groups_are_pre_enrolled_and_their_eligibility_fixed() {
    let mix = Mix::generate(&params(), "T");
    let clash = mix.groups.iter().filter(|g| **g == Group::Clash).count();
    let credit = mix.groups.iter().filter(|g| **g == Group::Credit).count();
    assert_eq!((clash, credit), (50, 20));
    assert_eq!(mix.pre.len(), 70);
    for &(s, c) in &mix.pre {
        let want = if mix.groups[s] == Group::Clash {
            Kind::Seminar
        } else {
            Kind::Capstone
        };
        assert_eq!(mix.courses[c].kind, want);
        assert_eq!(mix.eligibility(s, c), Ok(()));
    }
    for &(s, c) in &mix.rush {
        let r = mix.eligibility(s, c);
        match (mix.groups[s], mix.courses[c].kind) {
            (Group::Plain, _) => assert_eq!(r, Ok(())),
            (Group::Credit, _) => assert_eq!(r, Err("credit_limit")),
            (Group::Clash, Kind::Hot { slot: 0 } | Kind::Normal { slot: 0 }) => {
                assert_eq!(r, Err("schedule_conflict"))
            }
            (Group::Clash, _) => assert_eq!(r, Ok(())),
        }
    }
}

#[test]
fn same_seed_same_mix() {
    let a = Mix::generate(&params(), "T");
    let b = Mix::generate(&params(), "T");
    assert_eq!(a.rush, b.rush);
    assert_eq!(a.groups, b.groups);
}

fn phased() -> Mix {
    let p = MixParams {
        scenario: Scenario::Phased,
        ..params()
    };
    Mix::generate(&p, "T")
}

#[test]
fn the_phased_mix_is_the_default_one_under_the_registrars_rules() {
    let (default, phased) = (Mix::generate(&params(), "T"), phased());
    assert_eq!(
        default.rush, phased.rush,
        "the same requests in the same order"
    );
    assert_eq!(default.pre, phased.pre);
    assert!(default.cohorts.is_none() && default.phases.is_empty());
    assert!(default
        .courses
        .iter()
        .all(|c| c.blocks.is_empty() && c.department == DEFAULT_DEPARTMENT));
    let cohorts = phased.cohorts.as_ref().unwrap();
    for year in YEARS {
        for d in DEPARTMENTS {
            let n = cohorts
                .iter()
                .filter(|c| c.year == year && c.department == d)
                .count();
            assert!((31..=32).contains(&n), "{year} {d}: {n} of 500");
        }
    }
    for c in &phased.courses {
        if matches!(c.kind, Kind::Hot { .. } | Kind::Normal { .. }) {
            let b = &c.blocks[..];
            assert_eq!(b.len(), 1, "{}", c.code);
            assert_eq!(b[0].departments, vec![c.department.clone()]);
            assert_eq!(b[0].seats, (c.capacity as f64 * 0.3).round() as i32);
            assert_eq!(c.pool_seats(), c.capacity - b[0].seats);
        } else {
            assert!(
                c.blocks.is_empty(),
                "{}: set-up courses reserve nothing",
                c.code
            );
        }
    }
    for d in DEPARTMENTS {
        assert!(
            phased
                .courses
                .iter()
                .any(|c| matches!(c.kind, Kind::Hot { .. }) && c.department == d),
            "{d} has a hot course"
        );
    }
    // Years 2-4 have an open phase, year 1 not yet: a quarter of the crowd.
    assert!((0..500).all(|s| phased.in_phase(s) == (phased.cohort(s).year != 1)));
    assert_eq!((0..500).filter(|&s| !phased.in_phase(s)).count(), 125);
    assert!((0..500).all(|s| default.in_phase(s)));
    assert_eq!(default.cohort(3), Cohort::server_default());
}

#[test]
fn majors_take_their_block_first_then_the_pool_others_only_the_pool() {
    let mix = phased();
    // A hot course of 10 seats: 3 for its majors, 7 in the pool.
    let c = 0;
    assert_eq!(mix.courses[c].kind, Kind::Hot { slot: 0 });
    assert_eq!(mix.courses[c].capacity, 10);
    let dept = mix.courses[c].department.clone();
    let major = (0..500)
        .find(|&s| mix.cohort(s).department == dept)
        .unwrap();
    let other = (0..500)
        .find(|&s| mix.cohort(s).department != dept)
        .unwrap();
    let mut left = mix.seats_left(c);
    assert_eq!(left, vec![3, 7]);
    for _ in 0..3 {
        assert_eq!(mix.seat_for(major, c, &mut left), Some(Some(0)));
    }
    assert_eq!(
        mix.seat_for(major, c, &mut left),
        Some(None),
        "block full: pool"
    );
    for _ in 0..6 {
        assert_eq!(mix.seat_for(other, c, &mut left), Some(None));
    }
    assert_eq!(left, vec![0, 0]);
    assert_eq!(mix.seat_for(major, c, &mut left), None);
    // A block seat left is no seat for a non-major.
    let mut left = vec![2, 0];
    assert_eq!(mix.seat_for(other, c, &mut left), None);
    assert_eq!(left, vec![2, 0]);
}
