//! The cart and waitlists on the students' page: a clash named in the
//! cart before its close, the close enrolling what is left, told by the
//! stream's `cart` event without the page polling for it; a waitlist
//! that enrolls its head, and one that offers the seat, both pushed over
//! the event stream without a reload.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::*;

const SECS20: Duration = Duration::from_secs(20);

fn course(code: &str, name: &str, cap: i32, day: &str, start: &str, end: &str) -> Value {
    json!({"code": code, "name": name, "professor": "Lee", "department": "CSE", "credits": 3,
           "capacity": cap, "schedule": [{"day": day, "start": start, "end": end}]})
}

async fn cart_period(
    server: &Server,
    opens_at: chrono::DateTime<Utc>,
    closes_at: chrono::DateTime<Utc>,
) {
    server
        .admin(
            Method::PUT,
            "/api/v1/admin/cart-period",
            json!({"opens_at": opens_at, "closes_at": closes_at}),
        )
        .await;
}

/// Gives `student_no` a seat at once (the registrar's force-add).
async fn seat(server: &Server, student_no: &str, course: i64) {
    server
        .admin(
            Method::POST,
            "/api/v1/admin/enrollments",
            json!({"student_no": student_no, "course_id": course, "reason": "seat for the test"}),
        )
        .await;
}

async fn cancel_via_api(server: &Server, client: &reqwest::Client, course: i64) {
    let res = client
        .delete(format!("{}/api/v1/enrollments/{course}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
}

fn in_cart(course: i64) -> String {
    format!("[data-testid=cart-panel] [data-testid=cart-item][data-course-id=\"{course}\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_names_a_clash_and_its_close_enrolls_what_is_left() {
    let server = Server::start().await;
    server.students("C", 1).await;
    let ids = server
        .courses(json!([
            course("CSE4001", "Compilers", 30, "MON", "09:00", "10:15"),
            course("MTH4001", "Topology", 30, "MON", "10:00", "11:15"),
            course("HIS1001", "History", 30, "FRI", "13:00", "14:15"),
        ]))
        .await;
    let (compilers, topology, history) = (ids[0], ids[1], ids[2]);
    // Registration opens tomorrow; the cart is open now.
    let now = Utc::now();
    server.window(now + Span::days(1), 8).await;
    cart_period(&server, now - Span::hours(1), now + Span::hours(1)).await;
    Browser::run(DESKTOP_EN, |c| async move {
        log_in(&c, &server, "C0").await;
        wait_js(&c, "the open cart and its buttons",
            &format!("return document.querySelector('[data-testid=cart-panel]').dataset.state === 'open' \
                      && !document.querySelector('[data-testid=cart-panel]').hidden \
                      && !!document.querySelector('{} [data-testid=cart-add]')", row(compilers)), SECS10).await;
        let enroll = css(&c, &format!("{} [data-testid=enroll-button]", row(compilers))).await;
        assert!(!enroll.is_enabled().await.unwrap(), "registration itself is not open yet");

        // Two courses that meet at the same hour: the clash is named, both ways.
        click(&c, &format!("{} [data-testid=cart-add]", row(compilers))).await;
        wait_js(&c, "Compilers in the cart", &format!("return !!document.querySelector('{}')", in_cart(compilers)), SECS10).await;
        click(&c, &format!("{} [data-testid=cart-add]", row(history))).await;
        wait_js(&c, "History in the cart", &format!("return !!document.querySelector('{}')", in_cart(history)), SECS10).await;
        click(&c, &format!("{} [data-testid=cart-add]", row(topology))).await;
        wait_js(&c, "the clash named in the cart",
            &format!("const a = document.querySelector('{} [data-testid=cart-problem][data-code=schedule_conflict]'); \
                      const b = document.querySelector('{} [data-testid=cart-problem][data-code=schedule_conflict]'); \
                      return !!a && !!b && a.textContent === 'Clashes with MTH4001' && b.textContent === 'Clashes with CSE4001'",
                in_cart(compilers), in_cart(topology)), SECS10).await;
        assert!(css(&c, &row(topology)).await.text().await.unwrap().contains("Remove from cart"));
        click(&c, "[data-testid=lang-toggle]").await;
        wait_js(&c, "the clash in Korean",
            &format!("return document.querySelector('{} [data-testid=cart-problem]')?.textContent === '시간 중복: MTH4001'",
                in_cart(compilers)), SECS10).await;
        click(&c, "[data-testid=lang-toggle]").await;
        wait_js(&c, "the stream to be live",
            "return document.getElementById('live').dataset.state === 'live'", SECS10).await;

        // The registrar brings the close forward to a few seconds from now;
        // the test holds the period's row lock, so the close run waits.
        let closes_at = Utc::now() + Span::seconds(8);
        cart_period(&server, now - Span::hours(2), closes_at).await;
        let held = server.hold_cart_period().await;

        // Topology goes: nothing stands in Compilers' way any more (and the
        // page's read after it learns the new closing time).
        click(&c, &format!("{} [data-testid=cart-remove]", in_cart(topology))).await;
        wait_js(&c, "two courses left, without a problem",
            "return document.querySelectorAll('[data-testid=cart-item]').length === 2 \
                 && document.querySelectorAll('[data-testid=cart-problem]').length === 0", SECS10).await;
        assert!(css(&c, &in_cart(compilers)).await.text().await.unwrap().contains("No problem"));
        js(&c, "window.sameDocument = true; return true").await;
        // History comes to the student another way before the close.
        seat(&server, "C0", history).await;
        let reads = server.requests("GET", "/api/v1/cart").await;

        // The close passes (by the page's clock too) and the close run waits
        // on the lock: the page waits for the event rather than polling.
        wait_js(&c, "the cart closing on the page",
            "return document.querySelector('[data-testid=cart-panel]').dataset.state === 'settling'",
            Duration::from_secs(30)).await;
        server.wait_for_a_lock_waiter(SECS10).await;
        // Seconds in which the page used to read the cart once a second.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(server.requests("GET", "/api/v1/cart").await, reads,
            "no cart read between the close and the event");
        assert_eq!(js(&c, "return document.body.dataset.cartEvents ?? null").await, json!(null));

        // The run commits; the event tells the page, which reads once and
        // shows what the cart won, without a reload.
        held.rollback().await.unwrap();
        wait_js(&c, "Compilers among my enrollments, from the cart",
            &format!("return !!document.querySelector('[data-testid=enrollment-row][data-course-id=\"{compilers}\"]') \
                      && document.querySelector('[data-testid=cart-panel]').dataset.state === 'settled' \
                      && document.querySelector('{}').dataset.outcome === 'enrolled'", in_cart(compilers)),
            SECS20).await;
        assert_eq!(js(&c, "return document.body.dataset.cartEvents").await, json!("1"));
        assert_eq!(server.requests("GET", "/api/v1/cart").await, reads + 1,
            "one cart read, after the event");
        let status = css(&c, "[data-testid=cart-panel] .cart-status").await.text().await.unwrap();
        assert_eq!(status, "The cart was settled: enrolled in 1 of 2 courses.");
        // Why History was not won, in words.
        let why = format!("{} .outcome", in_cart(history));
        assert_eq!(js(&c, &format!("return document.querySelector('{}').dataset.why", in_cart(history))).await,
            json!("already_enrolled"));
        assert_eq!(css(&c, &why).await.text().await.unwrap(), "You already held a seat in it.");
        click(&c, "[data-testid=lang-toggle]").await;
        wait_js(&c, "the reason in Korean",
            &format!("return document.querySelector('{why}')?.textContent === '이미 신청되어 있던 강의입니다.'"), SECS10).await;
        assert_eq!(js(&c, "return window.sameDocument === true").await, json!(true), "no reload");
        assert_eq!(js(&c, "return document.querySelectorAll('[data-testid=cart-add], [data-testid=cart-remove]').length").await,
            json!(0), "a closed cart takes no changes");
    })
    .await;
}

/// `W1` logs in, finds `course` (one seat, held by `W0`) full, joins its
/// waitlist and sees their place; then the stream is live.
async fn join_a_full_course(c: &fantoccini::Client, server: &Server, course: i64) {
    log_in(c, server, "W1").await;
    let full = row(course);
    wait_js(c, "the course full, with its waitlist",
        &format!("const r = document.querySelector('{full}'); \
                  return r.querySelector('[data-testid=enroll-button]').disabled && r.textContent.includes('Full') \
                      && !!r.querySelector('[data-testid=waitlist-join]')"), SECS20).await;
    click(c, &format!("{full} [data-testid=waitlist-join]")).await;
    wait_js(c, "my place on the waitlist",
        &format!("const w = document.querySelector('[data-testid=waitlist-row][data-course-id=\"{course}\"]'); \
                  return w?.dataset.position === '1' && w.textContent.includes('number 1') \
                      && document.querySelector('{full} .why').textContent === 'Waitlist: you are number 1' \
                      && !document.querySelector('{full} [data-testid=waitlist-join]')"), SECS10).await;
    wait_js(
        c,
        "the stream to be live",
        "return document.getElementById('live').dataset.state === 'live'",
        SECS10,
    )
    .await;
    js(c, "window.sameDocument = true; return true").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_given_back_enrolls_the_waitlist_s_head_without_a_reload() {
    let server = Server::start().await;
    server.students("W", 2).await;
    let ids = server
        .courses(json!([course(
            "PHY1001", "Physics", 1, "TUE", "09:00", "10:15"
        )]))
        .await;
    let physics = ids[0];
    server.open_window().await;
    seat(&server, "W0", physics).await;
    let holder = server.api_student("W0").await;
    Browser::run(DESKTOP_EN, |c| async move {
        join_a_full_course(&c, &server, physics).await;
        cancel_via_api(&server, &holder, physics).await;
        wait_js(&c, "Physics enrolled from the waitlist",
            &format!("return !!document.querySelector('[data-testid=enrollment-row][data-course-id=\"{physics}\"]') \
                      && !document.querySelector('[data-testid=waitlist-row]') \
                      && document.querySelector('[data-testid=waitlist-news][data-course-id=\"{physics}\"]')?.dataset.status === 'enrolled'"),
            SECS20).await;
        let news = css(&c, "[data-testid=waitlist-news]").await.text().await.unwrap();
        assert!(news.contains("From the waitlist: you are enrolled in PHY1001 Physics"), "{news}");
        assert_eq!(js(&c, "return window.sameDocument === true").await, json!(true), "no reload");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_offered_from_the_waitlist_is_accepted_before_its_deadline() {
    let server = Server::start().await;
    server.students("W", 2).await;
    let ids = server
        .courses(json!([course(
            "CHM1001",
            "Chemistry",
            1,
            "THU",
            "13:00",
            "14:15"
        )]))
        .await;
    let chemistry = ids[0];
    server
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/courses/{chemistry}"),
            json!({"waitlist": {"mode": "offer", "offer_minutes": 30}}),
        )
        .await;
    server.open_window().await;
    seat(&server, "W0", chemistry).await;
    let holder = server.api_student("W0").await;
    Browser::run(DESKTOP_EN, |c| async move {
        join_a_full_course(&c, &server, chemistry).await;
        cancel_via_api(&server, &holder, chemistry).await;
        let offer = format!("[data-testid=offer][data-course-id=\"{chemistry}\"]");
        wait_js(&c, "the offer with its deadline counting down",
            &format!("const o = document.querySelector('{offer}'); \
                      return !!o && !!o.querySelector('[data-testid=offer-accept]') \
                          && !!o.querySelector('[data-testid=offer-decline]') \
                          && /^00:(29:[0-5][0-9]|30:00) left$/.test(o.querySelector('[data-testid=offer-countdown]').textContent)"),
            SECS20).await;
        // Said at once to a screen reader; not enrolled until accepted.
        let said = js(&c, "return document.getElementById('offer-said').textContent").await;
        assert!(said.as_str().unwrap().starts_with("A seat in CHM1001 Chemistry is offered to you"), "{said}");
        assert_eq!(js(&c, "return document.getElementById('offer-said').getAttribute('aria-live')").await, json!("assertive"));
        assert_eq!(js(&c, "return document.querySelectorAll('[data-testid=enrollment-row]').length").await, json!(0));
        assert_eq!(css(&c, &format!("{} .why", row(chemistry))).await.text().await.unwrap(),
            "A seat is held for you: accept it");

        click(&c, &format!("{offer} [data-testid=offer-accept]")).await;
        wait_js(&c, "Chemistry enrolled once accepted",
            &format!("return !!document.querySelector('[data-testid=enrollment-row][data-course-id=\"{chemistry}\"]') \
                      && !document.querySelector('[data-testid=offer]') \
                      && document.querySelector('[data-testid=waitlist-news]')?.dataset.status === 'enrolled'"),
            SECS20).await;
        assert_eq!(js(&c, "return window.sameDocument === true").await, json!(true), "no reload");
    })
    .await;
}
