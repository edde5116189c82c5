//! The screenshots in `docs/screenshots/`, taken from the real page:
//! `cargo test -p enroll-server --test browser -- --ignored screenshots`
//! (Korean text needs a CJK font: Debian's `fonts-noto-cjk`).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

const PHONE_KO: Look = Look {
    width: 390,
    height: 844,
    lang: "ko-KR",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run by hand after changing the page"]
async fn screenshots() {
    let server = Server::start().await;
    server.students("2026000", 3).await;
    let ids = server
        .courses(json!([
            {"code": "CSE2010", "name": "자료구조", "professor": "김민준", "department": "컴퓨터공학과", "credits": 3, "capacity": 40,
             "schedule": [{"day": "MON", "start": "09:00", "end": "10:15"}, {"day": "WED", "start": "09:00", "end": "10:15"}]},
            {"code": "CSE3080", "name": "운영체제", "professor": "이서연", "department": "컴퓨터공학과", "credits": 3, "capacity": 1,
             "schedule": [{"day": "TUE", "start": "10:30", "end": "11:45"}, {"day": "THU", "start": "10:30", "end": "11:45"}]},
            {"code": "MTH2001", "name": "선형대수", "professor": "박지훈", "department": "수학과", "credits": 3, "capacity": 60,
             "schedule": [{"day": "MON", "start": "10:00", "end": "11:15"}]},
            {"code": "BUS3300", "name": "마케팅관리", "professor": "최유진", "department": "경영학과", "credits": 3, "capacity": 35,
             "schedule": [{"day": "TUE", "start": "15:00", "end": "16:15"}, {"day": "THU", "start": "15:00", "end": "16:15"}]},
            {"code": "PSY1001", "name": "심리학개론", "professor": "정하늘", "department": "심리학과", "credits": 2, "capacity": 2,
             "schedule": [{"day": "FRI", "start": "13:00", "end": "14:50"}]},
        ]))
        .await;
    server.open_window().await;
    let me = server.api_student("20260000").await;
    server.enroll_via_api(&me, ids[0]).await;
    // Two others fill the small course, one is ahead in line for the OS seat.
    let a = server.api_student("20260001").await;
    let b = server.api_student("20260002").await;
    server.enroll_via_api(&a, ids[4]).await;
    server.enroll_via_api(&b, ids[4]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.pause_admission(true).await;
    server.enroll_via_api(&a, ids[1]).await;

    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    for (look, name) in [
        (DESKTOP_KO, "desktop-ko"),
        (DESKTOP_EN, "desktop-en"),
        (PHONE_KO, "phone-ko"),
    ] {
        let out = out.clone();
        let server = &server;
        let ids = &ids;
        Browser::run(look, |c| async move {
            c.goto(&format!("{}/", server.base)).await.unwrap();
            wait_js(
                &c,
                "the page",
                "return document.body.dataset.ready === 'true'",
                SECS10,
            )
            .await;
            if name == "phone-ko" {
                std::fs::write(
                    out.join("phone-login-ko.png"),
                    c.screenshot().await.unwrap(),
                )
                .unwrap();
            }
            log_in(&c, server, "20260000").await;
            let enroll = format!("{} [data-testid=enroll-button]", row(ids[1]));
            // Every browser asks; the server answers each with the same ticket.
            click(&c, &enroll).await;
            wait_js(
                &c,
                "the queued ticket",
                "return !!document.querySelector('[data-testid=ticket]')",
                SECS10,
            )
            .await;
            js(
                &c,
                &format!(
                    "document.querySelector('{}').dispatchEvent(new MouseEvent('mouseenter')); \
                             document.activeElement?.blur(); window.scrollTo(0, 0); return true",
                    row(ids[2])
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(600)).await;
            std::fs::write(
                out.join(format!("{name}.png")),
                c.screenshot().await.unwrap(),
            )
            .unwrap();
            if name == "phone-ko" {
                js(
                    &c,
                    "document.getElementById('timetable-title').scrollIntoView(); return true",
                )
                .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                std::fs::write(
                    out.join("phone-timetable-ko.png"),
                    c.screenshot().await.unwrap(),
                )
                .unwrap();
            }
        })
        .await;
    }
    server.pause_admission(false).await;
}
