//! A deleted student's enrollment mail goes with them: the changes not yet
//! in a message (a trigger on students) and the messages made for them
//! (their foreign key's cascade), while everyone else's stay.

use chrono::Utc;
use enroll_server::domain::mail::Change;
use enroll_server::store::outbox;
use serde_json::json;

use crate::helpers::{start, Spawn};

#[tokio::test]
async fn a_deleted_students_changes_and_messages_go_with_them() {
    let app = start(Spawn::fresh()).await;
    let ids = app.import_students("D", 2).await;
    let (gone, kept) = (ids[0], ids[1]);
    let course = app.create_course("D-1", 10, 3, json!([])).await;
    let mut tx = app.db.begin().await.unwrap();
    outbox::announce(&mut tx, &ids, &[course, course], Change::Enrolled)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The first changes go into one message each; then one more each,
    // not in a message yet.
    let ahead = Utc::now() + chrono::Duration::seconds(1);
    let sealed = outbox::seal_due(&app.db, ahead, ahead, 100).await.unwrap();
    assert_eq!(sealed, 2);
    let mut tx = app.db.begin().await.unwrap();
    outbox::announce(&mut tx, &ids, &[course, course], Change::Cancelled)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    sqlx::query("DELETE FROM students WHERE id = $1")
        .bind(gone)
        .execute(&app.db)
        .await
        .unwrap();
    let count = |sql: &'static str, student: i64| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(student)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let changes = "SELECT count(*) FROM mail_outbox WHERE student_id = $1";
    let messages = "SELECT count(*) FROM mail_messages WHERE student_id = $1";
    assert_eq!(
        count(changes, gone).await,
        0,
        "the deleted student's changes"
    );
    assert_eq!(
        count(messages, gone).await,
        0,
        "the deleted student's messages"
    );
    assert_eq!(count(changes, kept).await, 2, "the other student's changes");
    assert_eq!(
        count(messages, kept).await,
        1,
        "the other student's message"
    );
}
