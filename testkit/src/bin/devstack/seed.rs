//! Demo data for the local stack, sent through enroll-server's admin API
//! exactly as an operator would: courses, students, an open window.
//!
//! Everything is deterministic (no randomness), so the printed demo login
//! and course ids are the same on every run.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// How many demo students are imported.
pub const STUDENTS: usize = 200;

/// Student number of the `i`-th demo student (0-based).
pub fn student_no(i: usize) -> String {
    format!("2026{:04}", i + 1)
}

/// Every demo student's password is derived from the student number, so the
/// operator can log in as any of them.
pub fn password_of(student_no: &str) -> String {
    format!("demo-{student_no}")
}

/// (code, name, professor, department, credits, capacity, slot).
/// Capacities of 5–10 are the "hot" courses that fill in the first second.
const COURSES: &[(&str, &str, &str, &str, i16, i32, usize)] = &[
    (
        "CSE2010",
        "Data Structures",
        "Kim Minjun",
        "Computer Science",
        3,
        8,
        0,
    ),
    (
        "CSE3080",
        "Operating Systems",
        "Lee Seoyeon",
        "Computer Science",
        3,
        10,
        1,
    ),
    (
        "CSE4100",
        "Distributed Systems",
        "Park Jiho",
        "Computer Science",
        3,
        5,
        2,
    ),
    (
        "CSE3010",
        "Algorithms",
        "Choi Yuna",
        "Computer Science",
        3,
        60,
        3,
    ),
    (
        "CSE3200",
        "Databases",
        "Jung Hyunwoo",
        "Computer Science",
        3,
        80,
        4,
    ),
    (
        "CSE4510",
        "Machine Learning",
        "Kang Eunji",
        "Computer Science",
        3,
        6,
        5,
    ),
    (
        "CSE2100",
        "Computer Architecture",
        "Cho Sungmin",
        "Computer Science",
        3,
        70,
        6,
    ),
    (
        "CSE3500",
        "Computer Networks",
        "Yoon Jisoo",
        "Computer Science",
        3,
        75,
        7,
    ),
    (
        "MAT1010",
        "Calculus I",
        "Jang Dongha",
        "Mathematics",
        3,
        120,
        0,
    ),
    (
        "MAT2020",
        "Linear Algebra",
        "Lim Soyeon",
        "Mathematics",
        3,
        100,
        1,
    ),
    (
        "MAT2300",
        "Probability and Statistics",
        "Han Junseo",
        "Mathematics",
        3,
        90,
        2,
    ),
    (
        "MAT3100",
        "Real Analysis",
        "Oh Hayoon",
        "Mathematics",
        3,
        40,
        3,
    ),
    (
        "PHY1010",
        "General Physics I",
        "Seo Jaewon",
        "Physics",
        3,
        120,
        4,
    ),
    (
        "PHY2050",
        "Electromagnetism",
        "Shin Minseo",
        "Physics",
        3,
        50,
        5,
    ),
    (
        "PHY3100",
        "Quantum Mechanics",
        "Kwon Taeyang",
        "Physics",
        3,
        35,
        6,
    ),
    (
        "ECO1001",
        "Principles of Economics",
        "Hwang Jiwoo",
        "Economics",
        3,
        150,
        7,
    ),
    (
        "ECO2100",
        "Microeconomics",
        "Ahn Seojun",
        "Economics",
        3,
        80,
        8,
    ),
    (
        "ECO2200",
        "Macroeconomics",
        "Song Yerin",
        "Economics",
        3,
        80,
        9,
    ),
    (
        "BUS2010",
        "Financial Accounting",
        "Yoo Hyunjun",
        "Business",
        3,
        90,
        8,
    ),
    (
        "BUS3300",
        "Marketing Management",
        "Hong Chaewon",
        "Business",
        3,
        7,
        9,
    ),
    (
        "BUS3500",
        "Corporate Finance",
        "Jeon Dohyun",
        "Business",
        3,
        60,
        10,
    ),
    (
        "KOR1010",
        "Academic Writing in Korean",
        "Ko Subin",
        "Korean Language",
        2,
        40,
        11,
    ),
    (
        "KOR2100",
        "Modern Korean Literature",
        "Moon Jihun",
        "Korean Language",
        3,
        45,
        10,
    ),
    (
        "ENG1010",
        "English Presentation",
        "Yang Dayeon",
        "English",
        2,
        25,
        11,
    ),
    (
        "HIS1100",
        "History of East Asia",
        "Son Woojin",
        "History",
        3,
        100,
        12,
    ),
    (
        "PSY1001",
        "Introduction to Psychology",
        "Bae Sujin",
        "Psychology",
        3,
        9,
        12,
    ),
    (
        "ART1200",
        "Digital Design Studio",
        "Baek Gaeun",
        "Art and Design",
        2,
        20,
        13,
    ),
    (
        "MUS1100",
        "Understanding Music",
        "Heo Yejun",
        "Music",
        2,
        80,
        13,
    ),
    (
        "PE1010",
        "Tennis",
        "Nam Jimin",
        "Physical Education",
        1,
        24,
        14,
    ),
    (
        "PHI2100",
        "Ethics and Technology",
        "Noh Harin",
        "Philosophy",
        3,
        60,
        14,
    ),
];

/// Weekly meeting patterns (Korean universities' usual 75-minute blocks).
const SLOTS: &[&[(&str, &str, &str)]] = &[
    &[("MON", "09:00", "10:15"), ("WED", "09:00", "10:15")],
    &[("MON", "10:30", "11:45"), ("WED", "10:30", "11:45")],
    &[("MON", "12:00", "13:15"), ("WED", "12:00", "13:15")],
    &[("MON", "13:30", "14:45"), ("WED", "13:30", "14:45")],
    &[("MON", "15:00", "16:15"), ("WED", "15:00", "16:15")],
    &[("TUE", "09:00", "10:15"), ("THU", "09:00", "10:15")],
    &[("TUE", "10:30", "11:45"), ("THU", "10:30", "11:45")],
    &[("TUE", "12:00", "13:15"), ("THU", "12:00", "13:15")],
    &[("TUE", "13:30", "14:45"), ("THU", "13:30", "14:45")],
    &[("TUE", "15:00", "16:15"), ("THU", "15:00", "16:15")],
    &[("FRI", "09:00", "11:45")],
    &[("FRI", "13:00", "14:50")],
    &[("MON", "16:30", "17:45"), ("WED", "16:30", "17:45")],
    &[("TUE", "16:30", "17:45"), ("THU", "16:30", "17:45")],
    &[("FRI", "15:00", "16:50")],
];

const FAMILY: &[&str] = &[
    "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim",
];
const GIVEN: &[&str] = &[
    "Minjun", "Seoyeon", "Jiho", "Yuna", "Hyunwoo", "Eunji", "Sungmin", "Jisoo", "Dongha",
    "Soyeon", "Junseo", "Hayoon", "Jaewon", "Minseo", "Taeyang", "Jiwoo", "Seojun", "Yerin",
    "Hyunjun", "Chaewon",
];

/// The demo courses as the admin API takes them.
pub fn courses() -> Value {
    let list: Vec<Value> = COURSES
        .iter()
        .map(
            |&(code, name, professor, department, credits, capacity, slot)| {
                let schedule: Vec<Value> = SLOTS[slot]
                    .iter()
                    .map(|&(day, start, end)| json!({"day": day, "start": start, "end": end}))
                    .collect();
                json!({
                    "code": code, "name": name, "professor": professor,
                    "department": department, "credits": credits,
                    "capacity": capacity, "schedule": schedule,
                })
            },
        )
        .collect();
    Value::Array(list)
}

/// The demo students as the admin API takes them.
pub fn students() -> Value {
    let list: Vec<Value> = (0..STUDENTS)
        .map(|i| {
            let no = student_no(i);
            let name = format!(
                "{} {}",
                FAMILY[i % FAMILY.len()],
                GIVEN[(i / FAMILY.len()) % GIVEN.len()]
            );
            json!({
                "student_no": no,
                "name": name,
                "email": format!("s{no}@students.example.edu"),
                "password": password_of(&no),
            })
        })
        .collect();
    Value::Array(list)
}

/// What seeding created, for the start-up banner.
#[derive(Debug)]
pub struct Seeded {
    pub courses: usize,
    pub hot_courses: Vec<String>,
    pub students: usize,
    pub window: String,
}

/// Sends the demo data to the enroll-server at `base` with the admin token.
pub async fn seed(base: &str, admin_token: &str) -> Result<Seeded> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let auth = format!("Bearer {admin_token}");
    let send = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .header("Authorization", &auth)
            .json(&body)
            .send()
    };
    let created = expect_ok(
        send(reqwest::Method::POST, "/api/v1/admin/courses", courses()).await,
        "create the demo courses",
    )
    .await?;
    let courses = created.as_array().map_or(0, Vec::len);
    let imported = expect_ok(
        send(reqwest::Method::POST, "/api/v1/admin/students", students()).await,
        "import the demo students",
    )
    .await?;
    let now = chrono::Utc::now();
    let window = json!({
        "opens_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "closes_at": (now + chrono::Duration::days(7)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    expect_ok(
        send(
            reqwest::Method::PUT,
            "/api/v1/admin/registration-window",
            window.clone(),
        )
        .await,
        "open the registration window",
    )
    .await?;
    Ok(Seeded {
        courses,
        hot_courses: COURSES
            .iter()
            .filter(|c| c.5 <= 10)
            .map(|c| format!("{} ({} seats)", c.0, c.5))
            .collect(),
        students: imported["created"].as_u64().unwrap_or(0) as usize,
        window: format!("{} .. {}", window["opens_at"], window["closes_at"]),
    })
}

async fn expect_ok(response: reqwest::Result<reqwest::Response>, what: &str) -> Result<Value> {
    let response = response.with_context(|| format!("Failed to {what}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("Failed to {what}: HTTP {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what}: the answer is not JSON: {body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_well_formed() {
        let courses = courses();
        let list = courses.as_array().unwrap();
        assert_eq!(list.len(), COURSES.len());
        let mut codes: Vec<&str> = list.iter().map(|c| c["code"].as_str().unwrap()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), list.len(), "course codes are unique");
        assert!(list
            .iter()
            .all(|c| !c["schedule"].as_array().unwrap().is_empty()));
        assert!(
            COURSES.iter().filter(|c| c.5 <= 10).count() >= 3,
            "a few hot courses"
        );

        let students = students();
        let list = students.as_array().unwrap();
        assert_eq!(list.len(), STUDENTS);
        let mut nos: Vec<&str> = list
            .iter()
            .map(|s| s["student_no"].as_str().unwrap())
            .collect();
        nos.dedup();
        assert_eq!(nos.len(), STUDENTS, "student numbers are unique");
        assert_eq!(list[0]["password"], password_of(&student_no(0)));
    }
}
