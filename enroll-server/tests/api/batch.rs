//! One admission transaction against the real database: a batch retried
//! after its worker died between COMMIT and writing the decisions back, on a
//! course that batch filled, decides exactly as the first time.

use enroll_server::admission::batch::admit_batch;
use serde_json::json;

use crate::helpers::spawn_app;

fn summary(outcome: &enroll_server::admission::decide::Outcome) -> Vec<(i64, String)> {
    outcome
        .decisions
        .iter()
        .map(|d| {
            (
                d.seq,
                format!("{}:{}", d.status, d.reason.unwrap_or_default()),
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

    let first = admit_batch(&app.db, course, &heads, 18)
        .await
        .unwrap()
        .unwrap();
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
    let retry = admit_batch(&app.db, course, &retry_heads, 18)
        .await
        .unwrap()
        .unwrap();
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
