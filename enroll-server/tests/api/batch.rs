//! Admission transactions against the real database: a batch retried
//! after its worker died between COMMIT and writing the decisions back, on a
//! course that batch filled, decides exactly as the first time; the batches
//! of several courses decided in one transaction respect each student's
//! credit limit and timetable across them; the committer puts the batches
//! waiting at the same time into one transaction, and while batches keep
//! coming lets the next transaction wait for its interval, gathering them.

use std::time::Duration;

use enroll_server::admission::batch::{admit_courses, CourseBatch};
use enroll_server::admission::commit::{Committer, CommitterOptions};
use enroll_server::admission::decide::Outcome;
use enroll_server::metrics::Metrics;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::helpers::{eventually, spawn_app, TestApp};

/// One course's batch in a transaction of its own.
async fn admit_batch(db: &sqlx::PgPool, course: i64, heads: &[(i64, i64)]) -> Option<Outcome> {
    let batch = CourseBatch {
        addrs: Vec::new(),
        course,
        heads: heads.to_vec(),
    };
    admit_courses(db, &[batch], 18, true)
        .await
        .unwrap()
        .pop()
        .flatten()
}

/// One worker, the defaults otherwise, transactions `interval_ms` apart.
fn committer_options(interval_ms: u64) -> CommitterOptions {
    CommitterOptions {
        workers: 1,
        max_tickets: 2048,
        credit_limit: 18,
        interval: Duration::from_millis(interval_ms),
        announce: false,
    }
}

/// One student per code (`<prefix>0`, …) and one course per code (10 seats,
/// 3 credits, no meetings); ids in the same order.
async fn students_and_courses(app: &TestApp, prefix: &str, codes: &[&str]) -> (Vec<i64>, Vec<i64>) {
    let students = app.import_students(prefix, codes.len()).await;
    let mut courses = Vec::new();
    for code in codes {
        courses.push(app.create_course(code, 10, 3, json!([])).await);
    }
    (students, courses)
}

/// Has `committer` decide one ticket (`student`, `seq`) of `course`, in a
/// task of its own.
fn spawn_admit(
    committer: &Committer,
    course: i64,
    student: i64,
    seq: i64,
) -> JoinHandle<anyhow::Result<Option<Outcome>>> {
    let c = committer.clone();
    let batch = CourseBatch {
        addrs: Vec::new(),
        course,
        heads: vec![(student, seq)],
    };
    tokio::spawn(async move { c.admit(batch).await })
}

fn summary(outcome: &Outcome) -> Vec<(i64, String)> {
    outcome
        .decisions
        .iter()
        .map(|d| {
            (
                d.seq,
                format!(
                    "{}:{}",
                    d.status.as_str(),
                    d.reason.map_or("", |r| r.as_str())
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_retried_batch_on_the_course_it_filled_keeps_its_seats_and_inserts_nothing() {
    let app = spawn_app().await;
    let ids = app.import_students("B", 4).await;
    let course = app.create_course("FULL1", 2, 3, json!([])).await;
    let heads = [(ids[0], 10), (ids[1], 11), (ids[2], 12)];

    let first = admit_batch(&app.db, course, &heads).await.unwrap();
    assert_eq!(
        summary(&first),
        [
            (10, "enrolled:".to_string()),
            (11, "enrolled:".to_string()),
            (12, "rejected:course_full".to_string()),
        ]
    );
    assert_eq!(first.remaining, 0);

    // The same heads again (nothing was written back), behind them a new
    // student, an unknown one, and a second ticket of a seat holder.
    let retry_heads = [
        (ids[0], 10),
        (ids[1], 11),
        (ids[2], 12),
        (ids[3], 13),
        (999_999, 14),
        (ids[0], 15),
    ];
    let retry = admit_batch(&app.db, course, &retry_heads).await.unwrap();
    assert_eq!(
        summary(&retry),
        [
            (10, "enrolled:".to_string()),
            (11, "enrolled:".to_string()),
            (12, "rejected:course_full".to_string()),
            (13, "rejected:course_full".to_string()),
            (14, "rejected:unknown_student".to_string()),
            (15, "rejected:already_enrolled".to_string()),
        ]
    );
    assert!(retry.inserts.is_empty());
    let (rows, enrolled): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM enrollments WHERE course_id = $1), \
                (SELECT enrolled FROM courses WHERE id = $1)",
    )
    .bind(course)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((rows, enrolled), (2, 2));
}

fn mon(start: &str, end: &str) -> serde_json::Value {
    json!([{"day": "MON", "start": start, "end": end}])
}

#[tokio::test]
async fn one_transaction_for_several_courses_carries_each_new_seat_into_the_next_course() {
    let app = spawn_app().await;
    let s = app.import_students("M", 4).await;
    // Ascending ids: decided in this order within the transaction.
    let big_a = app
        .create_course("BIG-A", 5, 10, mon("09:00", "10:00"))
        .await;
    let big_b = app.create_course("BIG-B", 5, 10, json!([])).await;
    let clash = app
        .create_course("CLASH", 5, 2, mon("09:30", "10:30"))
        .await;
    let full = app.create_course("FULL", 1, 1, json!([])).await;
    // FULL's only seat goes to s[3] beforehand.
    admit_batch(&app.db, full, &[(s[3], 1)]).await.unwrap();

    let batches = vec![
        // Given out of id order on purpose.
        CourseBatch {
            addrs: Vec::new(),
            course: full,
            heads: vec![(s[0], 5), (s[3], 6)],
        },
        CourseBatch {
            addrs: Vec::new(),
            course: clash,
            heads: vec![(s[0], 7), (s[2], 8)],
        },
        CourseBatch {
            addrs: Vec::new(),
            course: big_b,
            heads: vec![(s[0], 9), (s[1], 10)],
        },
        CourseBatch {
            addrs: Vec::new(),
            course: big_a,
            heads: vec![(s[0], 11), (s[1], 12)],
        },
        CourseBatch {
            addrs: Vec::new(),
            course: 987_654,
            heads: vec![(s[2], 13)],
        },
    ];
    let outcomes = admit_courses(&app.db, &batches, 18, false).await.unwrap();
    let got: Vec<Option<Vec<(i64, String)>>> =
        outcomes.iter().map(|o| o.as_ref().map(summary)).collect();
    let row =
        |pairs: &[(i64, &str)]| Some(pairs.iter().map(|(q, d)| (*q, d.to_string())).collect());
    assert_eq!(
        got,
        vec![
            // FULL: s[0] is not in it; s[3] already holds it under another ticket.
            row(&[
                (5, "rejected:course_full"),
                (6, "rejected:already_enrolled")
            ]),
            // CLASH (decided after BIG-A): s[0] now holds MON 09:00-10:00.
            row(&[(7, "rejected:schedule_conflict"), (8, "enrolled:")]),
            // BIG-B (after BIG-A): 10 + 10 credits > 18.
            row(&[(9, "rejected:credit_limit"), (10, "rejected:credit_limit")]),
            row(&[(11, "enrolled:"), (12, "enrolled:")]),
            None,
        ]
    );
    let counts: Vec<(i64, i32, i64)> = sqlx::query_as(
        "SELECT c.id, c.enrolled, (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id) \
         FROM courses c WHERE c.id = ANY($1) ORDER BY c.id",
    )
    .bind(vec![big_a, big_b, clash, full])
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        counts,
        vec![(big_a, 2, 2), (big_b, 0, 0), (clash, 1, 1), (full, 1, 1)]
    );
}

#[tokio::test]
async fn batches_waiting_together_share_one_transaction() {
    let app = spawn_app().await;
    let (s, courses) = students_and_courses(&app, "G", &["G1", "G2", "G3", "G4"]).await;
    let metrics = Metrics::new();
    let committer = Committer::start(app.db.clone(), metrics.clone(), committer_options(0));
    let admit = |i: usize| spawn_admit(&committer, courses[i], s[i], i as i64 + 1);

    // Hold G1's row: the worker's first transaction (G1 alone) waits on it
    // while the other three batches queue up behind.
    let blocker = app.hold_course_lock(courses[0]).await;
    let first = admit(0);
    app.wait_for_a_lock_waiter().await;
    let rest: Vec<_> = (1..4).map(admit).collect();
    let waiting = metrics.batches_waiting.clone();
    eventually(Duration::from_secs(10), "three batches wait", || {
        let w = waiting.get();
        async move { w == 3 }
    })
    .await;
    blocker.rollback().await.unwrap();

    let mut decided = vec![first.await.unwrap().unwrap().unwrap()];
    for r in rest {
        decided.push(r.await.unwrap().unwrap().unwrap());
    }
    assert!(decided.iter().all(|o| o.inserts.len() == 1));
    assert_eq!(metrics.batch_size.get_sample_count(), 2, "two transactions");
    assert_eq!(metrics.batch_size.get_sample_sum(), 4.0, "four tickets");
    assert_eq!(metrics.transaction_courses.get_sample_sum(), 4.0);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 4);
}

/// Right after a transaction, the next batches wait for the interval and
/// go together. The interval is long so that a slow machine still submits
/// both batches within it; when a transaction may start (at once after a
/// quiet spell) is tested with paused time in `commit.rs`.
#[tokio::test]
async fn batches_arriving_within_the_interval_after_a_transaction_go_together() {
    let app = spawn_app().await;
    let (s, courses) = students_and_courses(&app, "P", &["P1", "P2", "P3"]).await;
    let metrics = Metrics::new();
    let committer = Committer::start(app.db.clone(), metrics.clone(), committer_options(3000));
    let admit = |i: usize| spawn_admit(&committer, courses[i], s[i], i as i64 + 1);

    let first = admit(0).await.unwrap().unwrap().unwrap();
    assert_eq!(first.inserts.len(), 1);
    assert_eq!(metrics.batch_size.get_sample_count(), 1);
    let second = admit(1);
    let waiting = metrics.batches_waiting.clone();
    eventually(Duration::from_secs(2), "the second batch waits", || {
        let w = waiting.get();
        async move { w == 1 }
    })
    .await;
    let third = admit(2);
    assert_eq!(second.await.unwrap().unwrap().unwrap().inserts.len(), 1);
    assert_eq!(third.await.unwrap().unwrap().unwrap().inserts.len(), 1);
    assert_eq!(metrics.batch_size.get_sample_count(), 2, "two transactions");
    assert_eq!(metrics.transaction_courses.get_sample_sum(), 3.0);
}

#[tokio::test]
async fn a_batch_that_cannot_commit_does_not_hold_up_the_others_in_its_transaction() {
    let app = spawn_app().await;
    let (s, courses) = students_and_courses(&app, "X", &["X1", "X2", "XP"]).await;
    let poisoned = courses[2];
    // Any insert into the poisoned course fails (a stand-in for whatever may
    // make one course's batch fail).
    for ddl in [
        "CREATE TABLE poisoned (course_id BIGINT PRIMARY KEY)",
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF EXISTS (SELECT 1 FROM poisoned WHERE course_id = NEW.course_id) THEN \
             RAISE EXCEPTION 'poisoned course'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER poison BEFORE INSERT ON enrollments \
           FOR EACH ROW EXECUTE FUNCTION poison()",
    ] {
        sqlx::query(ddl).execute(&app.db).await.unwrap();
    }
    sqlx::query("INSERT INTO poisoned VALUES ($1)")
        .bind(poisoned)
        .execute(&app.db)
        .await
        .unwrap();
    let metrics = Metrics::new();
    let committer = Committer::start(app.db.clone(), metrics.clone(), committer_options(0));

    // X1 goes first and waits on a lock, so X2 and the poisoned course's
    // batches meet in the next transaction.
    let blocker = app.hold_course_lock(courses[0]).await;
    let admit = |i: usize| spawn_admit(&committer, courses[i], s[i], i as i64 + 1);
    let first = admit(0);
    app.wait_for_a_lock_waiter().await;
    let waiting = metrics.batches_waiting.clone();
    let poisoned_batch = admit(2);
    let second = admit(1);
    eventually(Duration::from_secs(10), "two batches wait", || {
        let w = waiting.get();
        async move { w == 2 }
    })
    .await;
    blocker.rollback().await.unwrap();

    assert_eq!(first.await.unwrap().unwrap().unwrap().inserts.len(), 1);
    assert_eq!(second.await.unwrap().unwrap().unwrap().inserts.len(), 1);
    let err = poisoned_batch.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("poisoned course"), "{err}");
    let rows: Vec<i64> = sqlx::query_scalar("SELECT course_id FROM enrollments ORDER BY course_id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, vec![courses[0], courses[1]]);
    // The shared transaction and the poisoned batch alone failed.
    assert_eq!(metrics.transaction_failures.get(), 2);
}

/// The plan of admission's course-lock statement for `courses`, as JSON text.
async fn lock_courses_plan(pool: &sqlx::PgPool, courses: &[i64]) -> String {
    let plan: serde_json::Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) {}",
        enroll_server::store::locks::LOCK_COURSES
    ))
    .bind(courses)
    .fetch_one(pool)
    .await
    .unwrap();
    plan.to_string()
}

#[tokio::test]
async fn admission_connections_look_courses_up_by_key() {
    let app = spawn_app().await;
    let mut courses = Vec::new();
    for code in ["K1", "K2", "K3"] {
        courses.push(app.create_course(code, 10, 3, json!([])).await);
    }
    // An ordinary connection scans the small table whole (during a rush it is
    // mostly dead row versions, see `connect_options`) ...
    let plain = lock_courses_plan(&app.db, &courses).await;
    assert!(plain.contains(r#""Node Type":"Seq Scan""#), "{plain}");
    // ... admission's own connections go by its primary key.
    let options = enroll_server::admission::thread::connect_options(&app.database_url).unwrap();
    let admission = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let plan = lock_courses_plan(&admission, &courses).await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("courses_pkey"), "{plan}");
}
