//! What a student does on registration morning, end to end.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

const SECS20: Duration = Duration::from_secs(20);

fn course(
    code: &str,
    name: &str,
    dept: &str,
    cap: i32,
    day: &str,
    start: &str,
    end: &str,
) -> serde_json::Value {
    json!({"code": code, "name": name, "professor": "Kim", "department": dept, "credits": 3,
           "capacity": cap, "schedule": [{"day": day, "start": start, "end": end}]})
}

/// The first ticket's attribute `name` (`ticketStatus`, `reason`, ...).
async fn ticket_attr(c: &fantoccini::Client, name: &str) -> String {
    js(
        c,
        &format!("return document.querySelector('[data-testid=ticket]')?.dataset.{name} ?? ''"),
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_follow_the_line_refresh_second_tab_and_cancel() {
    let server = Server::start().await;
    server.students("E", 1).await;
    let ids = server
        .courses(json!([
            course("CSE1001", "Algorithms", "CSE", 30, "MON", "09:00", "10:15"),
            course(
                "MTH2001",
                "Linear Algebra",
                "MTH",
                30,
                "TUE",
                "13:00",
                "14:15"
            ),
        ]))
        .await;
    server.open_window().await;
    let linear = ids[1];
    Browser::run(DESKTOP_EN, |c| async move {
        log_in(&c, &server, "E0").await;
        // Find the course.
        css(&c, "[data-testid=course-search]").await.send_keys("Linear").await.unwrap();
        wait_js(&c, "the search to narrow the catalogue to one course",
            &format!("const rows = document.querySelectorAll('[data-testid=course-row]'); \
                      return rows.length === 1 && rows[0].dataset.courseId === '{linear}'"), SECS10).await;

        // Enroll while admission is paused: the place in line shows at once.
        server.pause_admission(true).await;
        click(&c, &format!("{} [data-testid=enroll-button]", row(linear))).await;
        wait_js(&c, "a queued ticket with its place",
            "const t = document.querySelector('[data-testid=ticket]'); \
             return t?.dataset.ticketStatus === 'queued' \
                 && t.querySelector('[data-testid=ticket-position]').textContent === '1'", SECS10).await;
        let ticket = ticket_attr(&c, "ticket").await;
        assert!(ticket.starts_with(&format!("{linear}-")), "{ticket}");
        // A screen reader hears the place move (in coarse steps, politely),
        // and nothing else every second.
        assert_eq!(
            js(&c, "const t = document.querySelector('[data-testid=ticket]'); \
                    return [t.querySelector('.place-said').getAttribute('aria-live'), \
                            t.querySelector('[data-testid=ticket-position]').getAttribute('aria-live')]").await,
            json!(["polite", null])
        );
        let button = css(&c, &format!("{} [data-testid=enroll-button]", row(linear))).await;
        assert!(!button.is_enabled().await.unwrap(), "no second request while in line");

        // A refresh shows the same ticket and place, not a new one.
        c.refresh().await.unwrap();
        wait_js(&c, "the same ticket after a refresh",
            &format!("const t = document.querySelector('[data-testid=ticket]'); \
                      return t?.dataset.ticket === '{ticket}' && t.dataset.ticketStatus === 'queued' \
                          && t.querySelector('[data-testid=ticket-position]').textContent === '1'"), SECS10).await;
        assert_eq!(js(&c, "return document.querySelectorAll('[data-testid=ticket]').length").await, json!(1));

        // So does a second tab.
        let first = c.window().await.unwrap();
        let tab = c.new_window(true).await.unwrap();
        c.switch_to_window(tab.handle).await.unwrap();
        c.goto(&format!("{}/", server.base)).await.unwrap();
        wait_js(&c, "the same ticket in a second tab",
            &format!("return document.querySelector('[data-testid=ticket]')?.dataset.ticket === '{ticket}'"), SECS10).await;
        c.close_window().await.unwrap();
        c.switch_to_window(first).await.unwrap();

        // Admission resumes: the decision arrives over the event stream.
        wait_js(&c, "the stream to be live", "return document.getElementById('live').dataset.state === 'live'", SECS10).await;
        server.pause_admission(false).await;
        wait_js(&c, "the ticket to turn enrolled",
            "return document.querySelector('[data-testid=ticket]')?.dataset.ticketStatus === 'enrolled'", SECS20).await;
        assert_eq!(ticket_attr(&c, "via").await, "stream", "the decision was pushed, not read");
        wait_js(&c, "the decision announced",
            "return document.getElementById('opened').textContent.includes('MTH2001 Linear Algebra: Enrolled')", SECS10).await;
        assert_eq!(ticket_attr(&c, "ticket").await, ticket);
        wait_js(&c, "the enrollment row and the timetable block",
            &format!("return !!document.querySelector('[data-testid=enrollment-row][data-course-id=\"{linear}\"]') \
                      && document.querySelector('[data-testid=timetable]').textContent.includes('MTH2001')"), SECS10).await;
        let credits = css(&c, "#credits").await.text().await.unwrap();
        assert!(credits.contains("3 / 18"), "{credits}");

        // Cancel asks first; "no" keeps the seat, "yes" gives it back.
        let cancel = format!("[data-testid=enrollment-row][data-course-id=\"{linear}\"] [data-testid=cancel-button]");
        click(&c, &cancel).await;
        wait_js(&c, "the confirmation", "return document.getElementById('confirm').open", SECS10).await;
        click(&c, "#confirm-no").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(js(&c, "return document.querySelectorAll('[data-testid=enrollment-row]').length").await, json!(1));
        click(&c, &cancel).await;
        wait_js(&c, "the confirmation", "return document.getElementById('confirm').open", SECS10).await;
        click(&c, "[data-testid=confirm-yes]").await;
        wait_js(&c, "the enrollment to go",
            "return document.querySelectorAll('[data-testid=enrollment-row]').length === 0", SECS10).await;
        wait_js(&c, "the course to be enrollable again",
            &format!("return !document.querySelector('{} [data-testid=enroll-button]').disabled", row(linear)), SECS10).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clash_shows_before_enrolling_and_a_full_course_is_refused_in_words() {
    let server = Server::start().await;
    server.students("F", 2).await;
    let ids = server
        .courses(json!([
            course(
                "CSE2001",
                "Operating Systems",
                "CSE",
                1,
                "WED",
                "09:00",
                "10:15"
            ),
            course("CSE3001", "Networks", "CSE", 30, "MON", "09:00", "10:15"),
            course("MTH3001", "Statistics", "MTH", 30, "MON", "10:00", "11:15"),
        ]))
        .await;
    let (os, networks, statistics) = (ids[0], ids[1], ids[2]);
    server.open_window().await;
    // The student already holds Networks (Monday 09:00-10:15).
    let me = server.api_student("F0").await;
    server.enroll_via_api(&me, networks).await;
    let other = server.api_student("F1").await;
    Browser::run(DESKTOP_EN, |c| async move {
        log_in(&c, &server, "F0").await;
        wait_js(&c, "Networks in my enrollments",
            &format!("return !!document.querySelector('[data-testid=enrollment-row][data-course-id=\"{networks}\"]')"), SECS20).await;

        // Statistics meets Monday 10:00: the clash is shown before enrolling.
        let stats = row(statistics);
        wait_js(&c, "the clash on Statistics",
            &format!("const r = document.querySelector('{stats}'); \
                      return r.classList.contains('clashes') && r.querySelector('[data-testid=enroll-button]').disabled \
                          && r.querySelector('.why').textContent.includes('Clashes with CSE3001')"), SECS10).await;
        js(&c, &format!("document.querySelector('{stats}').dispatchEvent(new MouseEvent('mouseenter')); return true")).await;
        wait_js(&c, "the clash in the timetable preview",
            "const t = document.querySelector('[data-testid=timetable]'); \
             return t.querySelectorAll('.tt-block.clash').length >= 2 && t.textContent.includes('clashes with CSE3001')", SECS10).await;

        // Another student is ahead in line for the last seat.
        server.pause_admission(true).await;
        server.enroll_via_api(&other, os).await;
        click(&c, &format!("{} [data-testid=enroll-button]", row(os))).await;
        wait_js(&c, "second in line",
            "const t = document.querySelector('[data-testid=ticket]'); \
             return t?.dataset.ticketStatus === 'queued' && t.querySelector('[data-testid=ticket-position]').textContent === '2'", SECS10).await;
        server.pause_admission(false).await;
        wait_js(&c, "the rejection", "return document.querySelector('[data-testid=ticket]')?.dataset.ticketStatus === 'rejected'", SECS20).await;
        assert_eq!(ticket_attr(&c, "reason").await, "course_full");
        let words = css(&c, "[data-testid=ticket]").await.text().await.unwrap();
        assert!(words.contains("Not enrolled: the course is full"), "{words}");
        assert!(!words.contains("course_full"), "words, not codes: {words}");
        // The catalogue now says it is full, and why the button is off.
        wait_js(&c, "the course shown full",
            &format!("const r = document.querySelector('{}'); \
                      return r.querySelector('[data-testid=enroll-button]').disabled && r.textContent.includes('Full')", row(os)), SECS10).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korean_by_default_english_on_request_and_the_countdown_opens_without_reload() {
    let server = Server::start().await;
    server.students("K", 1).await;
    let ids = server
        .courses(json!([course(
            "KOR1001",
            "Academic Korean",
            "KOR",
            30,
            "THU",
            "15:00",
            "16:15"
        )]))
        .await;
    // Opens a few seconds from now.
    let opens = chrono::Utc::now() + chrono::Duration::seconds(9);
    server.window(opens, 2).await;
    Browser::run(DESKTOP_KO, |c| async move {
        c.goto(&format!("{}/", server.base)).await.unwrap();
        wait_js(&c, "the page in Korean",
            "return document.documentElement.lang === 'ko' \
                 && document.querySelector('[data-testid=login-submit]').textContent === '로그인'", SECS10).await;
        log_in(&c, &server, "K0").await;
        js(&c, "window.sameDocument = true; return true").await;
        let countdown = css(&c, "[data-testid=countdown]").await;
        assert_eq!(countdown.attr("data-state").await.unwrap().as_deref(), Some("before"));
        assert!(countdown.text().await.unwrap().contains("수강신청 시작까지"));
        let enroll = format!("{} [data-testid=enroll-button]", row(ids[0]));
        assert!(!css(&c, &enroll).await.is_enabled().await.unwrap());
        assert!(css(&c, &row(ids[0])).await.text().await.unwrap().contains("신청 시작 전"));

        click(&c, "[data-testid=lang-toggle]").await;
        wait_js(&c, "the page in English",
            "return document.documentElement.lang === 'en' \
                 && document.querySelector('[data-testid=countdown]').textContent.includes('Registration opens in')", SECS10).await;
        assert!(css(&c, &row(ids[0])).await.text().await.unwrap().contains("Not open yet"));

        // The opening second turns the page into the enroll view by itself.
        wait_js(&c, "the window to open",
            &format!("return document.querySelector('[data-testid=countdown]').dataset.state === 'open' \
                      && !document.querySelector('{enroll}').disabled"), SECS20).await;
        assert_eq!(js(&c, "return window.sameDocument === true").await, json!(true), "no reload");
        click(&c, &enroll).await;
        wait_js(&c, "the ticket", "return !!document.querySelector('[data-testid=ticket]')", SECS10).await;
        let status = ticket_attr(&c, "ticketStatus").await;
        assert!(status == "queued" || status == "enrolled", "accepted at the opening second: {status}");

        click(&c, "[data-testid=lang-toggle]").await;
        wait_js(&c, "Korean again",
            "return document.documentElement.lang === 'ko' && document.querySelector('[data-testid=logout]').textContent === '로그아웃'", SECS10).await;
        // The choice is remembered across loads.
        c.refresh().await.unwrap();
        wait_js(&c, "Korean after a reload, still logged in",
            "return document.documentElement.lang === 'ko' && document.body.dataset.ready === 'true' \
                 && !document.getElementById('who').hidden", SECS10).await;
        click(&c, "[data-testid=logout]").await;
        wait_js(&c, "the login form after logging out",
            "return !document.getElementById('login-view').hidden", SECS10).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_survives_a_server_restart_and_catches_up() {
    let mut server = Server::start().await;
    server.students("R", 1).await;
    let ids = server
        .courses(json!([course(
            "PHY1001", "Physics", "PHY", 30, "FRI", "09:00", "10:15"
        )]))
        .await;
    server.open_window().await;
    let browser = Browser::start(DESKTOP_EN).await;
    let c = browser.client.clone();
    let outcome = {
        use futures::FutureExt;
        std::panic::AssertUnwindSafe(async {
            log_in(&c, &server, "R0").await;
            wait_js(&c, "the stream to be live", "return document.getElementById('live').dataset.state === 'live'", SECS10).await;
            server.pause_admission(true).await;
            click(&c, &format!("{} [data-testid=enroll-button]", row(ids[0]))).await;
            wait_js(&c, "queued", "return document.querySelector('[data-testid=ticket]')?.dataset.ticketStatus === 'queued'", SECS10).await;
            let ready = js(&c, "return Number(document.body.dataset.streamReady)").await;

            // The server dies and comes back; the decision is made at once,
            // perhaps before the page has its stream again.
            server.restart();
            server.pause_admission(false).await;
            wait_js(&c, "the decision after the restart",
                "return document.querySelector('[data-testid=ticket]')?.dataset.ticketStatus === 'enrolled'", Duration::from_secs(40)).await;
            wait_js(&c, "the stream to be live again",
                &format!("return document.getElementById('live').dataset.state === 'live' \
                          && Number(document.body.dataset.streamReady) > {ready}"), SECS20).await;
            wait_js(&c, "the enrollment listed", "return document.querySelectorAll('[data-testid=enrollment-row]').length === 1", SECS10).await;
            assert_eq!(js(&c, "return document.getElementById('alert').hidden || document.getElementById('alert').textContent").await, json!(true));
        })
        .catch_unwind()
        .await
    };
    let _ = c.close().await;
    drop(browser);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_by_itself_and_errors_are_words() {
    let server = Server::start().await;
    server.students("W", 1).await;
    server
        .courses(json!([course(
            "ECO1001",
            "Economics",
            "ECO",
            30,
            "WED",
            "13:00",
            "14:15"
        )]))
        .await;
    server.open_window().await;
    Browser::run(DESKTOP_EN, |c| async move {
        c.goto(&format!("{}/", server.base)).await.unwrap();
        wait_js(&c, "the page to start", "return document.body.dataset.ready === 'true'", SECS10).await;
        // A wrong password is said in words.
        css(&c, "[data-testid=login-student-no]").await.send_keys("W0").await.unwrap();
        css(&c, "[data-testid=login-password]").await.send_keys("wrong-password").await.unwrap();
        click(&c, "[data-testid=login-submit]").await;
        wait_js(&c, "the refusal in words",
            "return document.getElementById('login-error').textContent === 'Wrong student number or password.'", SECS10).await;
        // Ten failures from this address: the next login is answered 429
        // with Retry-After; the page says it waits and tries again itself.
        let client = reqwest::Client::new();
        for _ in 0..10 {
            client
                .post(format!("{}/api/v1/auth/login", server.base))
                .json(&json!({"student_no": "W0", "password": "wrong-password"}))
                .send()
                .await
                .unwrap();
        }
        js(&c, "document.querySelector('[data-testid=login-password]').value = ''; return true").await;
        css(&c, "[data-testid=login-password]").await.send_keys(PASSWORD).await.unwrap();
        click(&c, "[data-testid=login-submit]").await;
        wait_js(&c, "the waiting notice",
            "const n = document.getElementById('notice'); \
             return !n.hidden && n.textContent.includes('Retrying by itself in')", SECS10).await;
        wait_js(&c, "the login after the wait",
            "return document.querySelectorAll('[data-testid=course-row]').length > 0 \
                 && document.getElementById('notice').hidden", Duration::from_secs(30)).await;
    })
    .await;
}
