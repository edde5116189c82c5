//! An enroll-server SIGKILLed in the middle of sending mail: the next
//! server delivers the rest, and a mail sent twice (sent, but the process
//! died before marking it) carries the same Message-ID both times.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enroll_server::startup::MIGRATOR;
use sqlx::PgPool;
use testkit::{free_port, wait_for_port, ChildGuard, RedisServer, SinkOptions, SmtpSink};

fn spawn_server(db: &str, redis: &str, smtp: &str) -> ChildGuard {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enroll-server"));
    cmd.env("ENROLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("ENROLL_DATABASE_URL", db)
        .env("ENROLL_REDIS_URL", redis)
        .env("ENROLL_ADMIN_TOKEN", "mail-process-admin-token-0123")
        .env("ENROLL_SMTP_URL", smtp)
        .env("ENROLL_MAIL_FROM", "noreply@univ.test")
        .env("ENROLL_MAIL_PAGE_URL", "https://enroll.univ.test/")
        .env("ENROLL_MAIL_DIGEST_WINDOW_MS", "0")
        .env("ENROLL_MAIL_RATE", "off")
        // A dead server's claims are taken over quickly.
        .env("ENROLL_MAIL_CLAIM_LEASE_MS", "1500")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    let child = ChildGuard::spawn("enroll-server", &mut cmd).unwrap();
    wait_for_port(port, Duration::from_secs(30)).unwrap();
    child
}

async fn sent(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM mail_messages WHERE state = 'sent'")
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_send_the_next_server_delivers_the_rest_with_the_same_message_ids() {
    let (db_url, _) = tokio::task::spawn_blocking(|| testkit::shared::database("mailkill"))
        .await
        .unwrap()
        .unwrap();
    let redis = RedisServer::start().unwrap();
    // Slow enough that the kill lands while mail is going out.
    let smtp = SmtpSink::start(SinkOptions {
        delay_ms: 15,
        ..SinkOptions::default()
    })
    .expect("aiosmtpd (Debian: python3-aiosmtpd)");
    let db = PgPool::connect(&db_url).await.unwrap();
    MIGRATOR.run(&db).await.unwrap();
    let n = 300_i64;
    sqlx::query(
        "INSERT INTO students (student_no, name, email, password_hash) \
         SELECT 'K' || i, 'K', 'k' || i || '@uni.test', '$argon2id$unused' FROM generate_series(1, $1) i",
    )
    .bind(n)
    .execute(&db)
    .await
    .unwrap();
    let course: i64 = sqlx::query_scalar(
        "INSERT INTO courses (code, name, credits, capacity) VALUES ('KILL1', 'Kill', 3, 500) RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO mail_outbox (student_id, course_id, change) SELECT id, $1, 'enrolled' FROM students")
        .bind(course)
        .execute(&db)
        .await
        .unwrap();

    let mut first = spawn_server(&db_url, &redis.url(), &smtp.url());
    let deadline = Instant::now() + Duration::from_secs(60);
    while smtp.received().len() < 40 {
        assert!(Instant::now() < deadline, "no mail went out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill(); // SIGKILL
    let at_kill = smtp.received().len();
    let marked_at_kill = sent(&db).await;
    assert!(
        marked_at_kill < n,
        "the kill landed after everything was sent"
    );

    let _second = spawn_server(&db_url, &redis.url(), &smtp.url());
    let deadline = Instant::now() + Duration::from_secs(90);
    while sent(&db).await < n {
        assert!(Instant::now() < deadline, "the rest was never sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails = smtp.received();
    let mut ids_by_rcpt: HashMap<&str, HashSet<&str>> = HashMap::new();
    for m in &mails {
        ids_by_rcpt
            .entry(&m.rcpt_tos[0])
            .or_default()
            .insert(&m.message_id);
    }
    assert_eq!(ids_by_rcpt.len(), n as usize, "every student got mail");
    for (rcpt, ids) in &ids_by_rcpt {
        assert_eq!(
            ids.len(),
            1,
            "{rcpt}: a resend with another Message-ID: {ids:?}"
        );
    }
    println!(
        "received {at_kill} before the kill ({marked_at_kill} marked sent), {} in all: {} resent with the same Message-ID",
        mails.len(),
        mails.len() - n as usize
    );
}
