//! The students' page in a real browser: Debian's chromium, headless,
//! driven through chromedriver (WebDriver) against a real enroll-server
//! process, PostgreSQL and Redis. One test binary, so the tests share one
//! PostgreSQL cluster; at most two browsers run at once.

mod cart_waitlist;
mod harness;
mod journeys;
mod places;
mod screenshots;
