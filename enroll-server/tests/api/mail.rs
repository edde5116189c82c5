//! Enrollment mail against a real SMTP server (aiosmtpd, started per test on
//! a free port, keeping what it receives). End to end through the API with
//! the server's own sender, and step by step with a sender of the test's
//! own on an injected clock, for retries, bounces and two senders at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use enroll_server::admission::batch::{admit_courses, CourseBatch};
use enroll_server::config::{MailSettings, Options};
use enroll_server::domain::mail::Change;
use enroll_server::mail::{ManualClock, Sender, Tick};
use enroll_server::metrics::Metrics;
use enroll_server::store::outbox;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{ReceivedMail, SinkOptions, SmtpSink};

use crate::enroll::{enroll_decided, enroll_ok};
use crate::helpers::{eventually, spawn_app, start, Spawn, TestApp};

/// Mail on, sent at once (no digest window, no rate limit), through `url`.
fn mail_options(url: &str) -> Options {
    Options {
        smtp_url: Some(url.into()),
        mail_from: Some("수강신청 <noreply@univ.test>".into()),
        mail_page_url: Some("https://enroll.univ.test/".into()),
        mail_digest_window_ms: Some(0),
        mail_rate: Some("off".parse().unwrap()),
        ..Options::default()
    }
}

/// The mail settings a server with `extra` would run with.
fn settings(app: &TestApp, extra: Options) -> MailSettings {
    Options {
        database_url: Some(app.database_url.clone()),
        admin_token: Some("test-admin-token-0123456789".into()),
        ..extra
    }
    .resolve()
    .unwrap()
    .mail
    .unwrap()
}

/// A sender of the test's own on `clock`.
fn sender(app: &TestApp, extra: Options, clock: Arc<ManualClock>) -> Sender {
    Sender::new(
        app.db.clone(),
        settings(app, extra),
        Metrics::new().mail.clone(),
        clock,
    )
    .unwrap()
}

fn sink(opts: SinkOptions) -> SmtpSink {
    SmtpSink::start(opts).expect("aiosmtpd (Debian: python3-aiosmtpd)")
}

/// A clock a little ahead of the database's, so changes just written are due.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now() + chrono::Duration::seconds(1)))
}

/// Imports one student with this address (and language); returns the id.
async fn student(app: &TestApp, no: &str, email: &str, lang: &str) -> i64 {
    let res = app
        .admin_post(
            "/api/v1/admin/students",
            &json!({"student_no": no, "name": format!("Student {no}"), "email": email,
                    "password": crate::helpers::PASSWORD, "mail_language": lang}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["students"][0]["id"]
        .as_i64()
        .unwrap()
}

/// Writes `change` of each student in `course` to the outbox, as a
/// transaction that makes the change would.
async fn announce(app: &TestApp, students: &[i64], course: i64, change: Change) {
    let mut tx = app.db.begin().await.unwrap();
    let courses = vec![course; students.len()];
    outbox::announce(&mut tx, students, &courses, change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Message states in the database: (state, count).
async fn states(app: &TestApp) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT state, count(*) FROM mail_messages GROUP BY state")
        .fetch_all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Asserts every recipient got mail under one Message-ID only, and that
/// `expected` distinct mails arrived.
fn assert_once_each(mails: &[ReceivedMail], expected: usize) {
    let mut ids_by_rcpt: HashMap<&str, HashSet<&str>> = HashMap::new();
    for m in mails {
        ids_by_rcpt
            .entry(m.rcpt_tos[0].as_str())
            .or_default()
            .insert(m.message_id.as_str());
    }
    let distinct: HashSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(distinct.len(), expected, "distinct Message-IDs");
    for (rcpt, ids) in ids_by_rcpt {
        assert_eq!(ids.len(), 1, "{rcpt} got different mails: {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_and_a_cancel_each_mail_the_student_once_in_their_language() {
    let smtp = sink(SinkOptions::default());
    let mut spec = Spawn::fresh();
    spec.extra = mail_options(&smtp.url());
    let app = start(spec).await;
    student(&app, "M0", "m0@uni.test", "ko").await;
    student(&app, "M1", "m1@uni.test", "en").await;
    let course = app
        .create_course(
            "CSE3010-01",
            10,
            3,
            json!([{"day": "MON", "start": "09:00", "end": "10:15"}]),
        )
        .await;
    app.open_window().await;
    let (ko, en) = (app.login("M0").await, app.login("M1").await);
    assert_eq!(enroll_decided(&app, &ko, course).await, "enrolled");
    assert_eq!(enroll_decided(&app, &en, course).await, "enrolled");

    eventually(Duration::from_secs(20), "two mails", || async {
        smtp.received().len() >= 2
    })
    .await;
    eventually(Duration::from_secs(20), "both marked sent", || async {
        states(&app).await.get("sent") == Some(&2)
    })
    .await;
    let mails = smtp.received();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let to = |a: &str| mails.iter().find(|m| m.rcpt_tos == [a]).unwrap().clone();
    let m = to("m0@uni.test");
    assert_eq!(
        m.subject,
        "[수강신청] 수강신청 완료: CSE3010-01 Course CSE3010-01"
    );
    assert!(m.text.contains("(월 09:00–10:15)"), "{}", m.text);
    assert!(m.text.contains("https://enroll.univ.test/"));
    assert!(m.html.contains("CSE3010-01"));
    assert!(m.message_id.starts_with("<enroll.") && m.message_id.ends_with("@univ.test>"));
    assert_eq!(m.mail_from, "noreply@univ.test");
    let e = to("m1@uni.test");
    assert_eq!(
        e.subject,
        "[Course registration] Enrolled: CSE3010-01 Course CSE3010-01"
    );
    assert!(e.text.contains("(Mon 09:00–10:15)"), "{}", e.text);

    // A cancel is announced by its own transaction, in a mail of its own.
    let res = ko
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    eventually(Duration::from_secs(20), "the cancel's mail", || async {
        smtp.received().len() >= 3
    })
    .await;
    let last = smtp.received().pop().unwrap();
    assert_eq!(last.rcpt_tos, ["m0@uni.test"]);
    assert!(last.subject.contains("수강취소"), "{}", last.subject);
    assert_ne!(last.message_id, m.message_id);
    assert!(app.metric("enroll_mail_sent_total").await >= 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rush_of_500_enrollments_sends_500_mails_none_twice_none_lost() {
    let smtp = sink(SinkOptions::default());
    let mut spec = Spawn::fresh();
    spec.extra = mail_options(&smtp.url());
    let app = start(spec).await;
    let n = 500;
    app.import_students("U", n).await;
    let course = app.create_course("RUSH101", n as i32, 3, json!([])).await;
    app.open_window().await;
    // In rounds: the password checks waiting at once are bounded (503 busy).
    let mut clients = Vec::new();
    for round in (0..n).collect::<Vec<_>>().chunks(100) {
        let names: Vec<String> = round.iter().map(|i| format!("U{i}")).collect();
        clients.extend(join_all(names.iter().map(|no| app.login(no))).await);
    }
    let tickets = join_all(clients.iter().map(|c| enroll_ok(&app, c, course))).await;
    let finals = app.wait_all_decided(&clients, &tickets).await;
    assert!(finals.iter().all(|f| f["status"] == "enrolled"));

    eventually(Duration::from_secs(60), "500 mails sent", || async {
        states(&app).await.get("sent") == Some(&(n as i64))
    })
    .await;
    let mails = smtp.received();
    assert_eq!(mails.len(), n, "one mail per enrollment, none twice");
    assert_once_each(&mails, n);
    let rcpts: HashSet<String> = mails.iter().map(|m| m.rcpt_tos[0].clone()).collect();
    let expected: HashSet<String> = (0..n).map(|i| format!("U{i}@uni.test")).collect();
    assert_eq!(rcpts, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_students_changes_within_the_window_go_out_as_one_digest() {
    let app = spawn_app().await;
    let smtp = sink(SinkOptions::default());
    let s = student(&app, "D0", "d0@uni.test", "en").await;
    let a = app.create_course("DG1", 5, 3, json!([])).await;
    let b = app.create_course("DG2", 5, 3, json!([])).await;
    announce(&app, &[s], a, Change::Enrolled).await;
    announce(&app, &[s], b, Change::Enrolled).await;
    announce(&app, &[s], a, Change::Cancelled).await;
    let clock = clock();
    let extra = Options {
        mail_digest_window_ms: Some(10_000),
        ..mail_options(&smtp.url())
    };
    let sender = sender(&app, extra, clock.clone());
    assert_eq!(sender.tick().await.unwrap(), Tick::default(), "not due yet");
    clock.advance(Duration::from_secs(10));
    let t = sender.tick().await.unwrap();
    assert_eq!((t.sealed, t.sent), (1, 1), "{t:?}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].subject,
        "[Course registration] Your enrollments changed"
    );
    let text = &mails[0].text;
    let (e1, e2, c1) = (
        text.find("Enrolled: DG1").unwrap(),
        text.find("Enrolled: DG2").unwrap(),
        text.find("Cancelled: DG1").unwrap(),
    );
    assert!(e1 < e2 && e2 < c1, "in the order they happened: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_for_a_while_then_back_delivers_everything_once() {
    let app = spawn_app().await;
    let mut smtp = sink(SinkOptions::default());
    let ids = app.import_students("S", 20).await;
    let course = app.create_course("DOWN1", 50, 3, json!([])).await;
    announce(&app, &ids, course, Change::Enrolled).await;
    let clock = clock();
    let extra = Options {
        mail_retry_max_ms: Some(8_000),
        ..mail_options(&smtp.url())
    };
    let sender = sender(&app, extra, clock.clone());
    smtp.stop();

    // Down: every attempt fails; the first one's failure spares the rest.
    let t = sender.tick().await.unwrap();
    assert_eq!((t.claimed, t.sent, t.retried), (20, 0, 20), "{t:?}");
    // Nothing is due again before its backoff has passed: 1 s (+ up to 1/8).
    assert_eq!(sender.tick().await.unwrap().claimed, 0);
    clock.advance(Duration::from_millis(900));
    assert_eq!(sender.tick().await.unwrap().claimed, 0);
    clock.advance(Duration::from_millis(300));
    let t = sender.tick().await.unwrap();
    assert_eq!((t.claimed, t.retried), (20, 20), "second attempt: {t:?}");
    // Then 2 s, 4 s, 8 s (the cap), 8 s ...
    for wait in [2_300, 4_600, 9_000, 9_000] {
        clock.advance(Duration::from_millis(wait));
        let t = sender.tick().await.unwrap();
        assert_eq!(t.claimed, 20, "after {wait} ms: {t:?}");
    }
    let attempts: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT attempts FROM mail_messages")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(attempts, [6]);

    // Back: the next attempt delivers each mail, once.
    smtp.restart().unwrap();
    clock.advance(Duration::from_millis(9_000));
    let t = sender.tick().await.unwrap();
    assert_eq!((t.claimed, t.sent), (20, 20), "{t:?}");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(sender.tick().await.unwrap(), Tick::default());
    let mails = smtp.received();
    assert_eq!(mails.len(), 20);
    assert_once_each(&mails, 20);
    assert_eq!(states(&app).await.get("sent"), Some(&20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounced_address_is_parked_listed_and_requeued_by_an_account() {
    let app = spawn_app().await;
    let refusing = sink(SinkOptions {
        reject_prefix: Some("bounce".into()),
        ..SinkOptions::default()
    });
    let ok = student(&app, "B0", "fine@uni.test", "ko").await;
    let bad = student(&app, "B1", "bounce-b1@uni.test", "ko").await;
    let course = app.create_course("BNC1", 5, 3, json!([])).await;
    announce(&app, &[ok, bad], course, Change::Enrolled).await;
    let clock = clock();
    let sender_a = sender(&app, mail_options(&refusing.url()), clock.clone());
    let t = sender_a.tick().await.unwrap();
    assert_eq!((t.sent, t.parked, t.retried), (1, 1, 0), "{t:?}");
    assert_eq!(refusing.received().len(), 1);
    // Parked for good: no later attempt.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(sender_a.tick().await.unwrap().claimed, 0);

    let page: Value = reqwest::Client::new()
        .get(app.url("/api/v1/admin/mail/parked"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["email"], "bounce-b1@uni.test");
    assert_eq!(items[0]["student_no"], "B1");
    assert_eq!(items[0]["changes"], 1);
    assert!(
        items[0]["last_error"].as_str().unwrap().contains("550"),
        "{page}"
    );
    let id = items[0]["id"].as_i64().unwrap();

    // Re-queued by a registrar's account: the message names the account,
    // not the note sent along.
    app.create_admin("ops-kim", "registrar").await;
    let registrar = app.admin_login("ops-kim").await;
    let res = app
        .admin_as(
            &registrar,
            reqwest::Method::POST,
            "/api/v1/admin/mail/requeue",
            &json!({"ids": [id, 999_999], "by": "ticket OPS-12"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["requeued"], json!([id]));
    let by: Option<String> =
        sqlx::query_scalar("SELECT requeued_by FROM mail_messages WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(by.as_deref(), Some("ops-kim"));

    // The mail server takes the address now (here: another one that does).
    let accepting = sink(SinkOptions::default());
    let sender_b = sender(&app, mail_options(&accepting.url()), clock.clone());
    let t = sender_b.tick().await.unwrap();
    assert_eq!((t.claimed, t.sent), (1, 1), "{t:?}");
    let got = accepting.received();
    assert_eq!(got[0].rcpt_tos, ["bounce-b1@uni.test"]);
    assert_eq!(states(&app).await.get("parked"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_at_once_never_send_the_same_mail() {
    let app = spawn_app().await;
    let smtp = sink(SinkOptions {
        delay_ms: 2,
        ..SinkOptions::default()
    });
    let ids = app.import_students("T", 300).await;
    let course = app.create_course("TWO1", 300, 3, json!([])).await;
    announce(&app, &ids, course, Change::Enrolled).await;
    let clock = clock();
    let a = sender(&app, mail_options(&smtp.url()), clock.clone());
    let b = sender(&app, mail_options(&smtp.url()), clock.clone());
    let drain = |s: Sender| async move {
        let mut sent = 0;
        let mut idle = 0;
        while idle < 3 {
            let t = s.tick().await.unwrap();
            sent += t.sent;
            idle = if t.claimed == 0 && t.sealed == 0 {
                idle + 1
            } else {
                0
            };
        }
        sent
    };
    let (sent_a, sent_b) = tokio::join!(drain(a), drain(b));
    assert_eq!(sent_a + sent_b, 300, "a sent {sent_a}, b sent {sent_b}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 300);
    assert_once_each(&mails, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_retried_after_its_commit_announces_its_seats_once() {
    let app = spawn_app().await;
    let ids = app.import_students("A", 3).await;
    let course = app.create_course("ANN1", 10, 3, json!([])).await;
    let batch = CourseBatch {
        addrs: Vec::new(),
        course,
        heads: ids
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, i as i64 + 1))
            .collect(),
    };
    for _ in 0..2 {
        admit_courses(&app.db, std::slice::from_ref(&batch), 18, true)
            .await
            .unwrap();
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE change = 'enrolled'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(rows, 3);
    // Mail off: admission writes no outbox rows at all.
    let other = app.create_course("ANN2", 10, 3, json!([])).await;
    let batch = CourseBatch {
        addrs: Vec::new(),
        course: other,
        heads: vec![(ids[0], 1)],
    };
    admit_courses(&app.db, &[batch], 18, false).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 3);
}
