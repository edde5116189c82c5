//! What a mail says, in Korean or English, as plain text and HTML: each
//! change with the course's code, name and weekly meetings, and a link to
//! the students' page. A pure function of its input.

use std::fmt::Write;

use crate::domain::mail::{Change, Language};
use crate::domain::schedule::{Day, Meeting};
use crate::store::outbox::ChangeLine;

/// A mail's subject and its two bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Writes the mail telling `name` about `changes` (oldest first).
pub fn compose(lang: Language, name: &str, changes: &[ChangeLine], page_url: &str) -> Composed {
    let words = Words::of(lang);
    let subject = match changes {
        [one] => format!(
            "{} {}: {} {}",
            words.tag,
            words.change(one.change),
            one.code,
            one.name
        ),
        _ => format!("{} {}", words.tag, words.digest_subject),
    };
    let lines: Vec<String> = changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} {} ({})",
                words.change(c.change),
                c.code,
                c.name,
                schedule(lang, &c.schedule)
            )
        })
        .collect();

    let mut text = String::new();
    let _ = writeln!(text, "{}\n\n{}\n", (words.greeting)(name), words.intro);
    for line in &lines {
        let _ = writeln!(text, "- {line}");
    }
    let _ = write!(
        text,
        "\n{}\n{page_url}\n\n{}\n",
        words.see_page, words.no_reply
    );

    let mut html = String::from("<!DOCTYPE html>\n<html lang=\"");
    html.push_str(lang.as_str());
    html.push_str("\"><head><meta charset=\"utf-8\"></head><body>\n");
    let _ = writeln!(
        html,
        "<p>{}</p>\n<p>{}</p>\n<ul>",
        escape(&(words.greeting)(name)),
        escape(words.intro)
    );
    for line in &lines {
        let _ = writeln!(html, "<li>{}</li>", escape(line));
    }
    let _ = write!(
        html,
        "</ul>\n<p>{} <a href=\"{url}\">{url}</a></p>\n<p><small>{}</small></p>\n</body></html>\n",
        escape(words.see_page),
        escape(words.no_reply),
        url = escape(page_url)
    );
    Composed {
        subject,
        text,
        html,
    }
}

/// The fixed words of one language.
struct Words {
    tag: &'static str,
    digest_subject: &'static str,
    greeting: fn(&str) -> String,
    intro: &'static str,
    see_page: &'static str,
    no_reply: &'static str,
    changes: [&'static str; 4],
    days: [&'static str; 7],
    no_meetings: &'static str,
}

impl Words {
    fn of(lang: Language) -> &'static Words {
        match lang {
            Language::Ko => &KO,
            Language::En => &EN,
        }
    }

    fn change(&self, c: Change) -> &'static str {
        self.changes[match c {
            Change::Enrolled => 0,
            Change::Cancelled => 1,
            Change::Added => 2,
            Change::Dropped => 3,
        }]
    }
}

static KO: Words = Words {
    tag: "[수강신청]",
    digest_subject: "수강 내역이 변경되었습니다",
    greeting: |name| format!("{name}님, 안녕하세요."),
    intro: "수강 내역이 다음과 같이 변경되었습니다.",
    see_page: "현재 수강 내역은 수강신청 페이지에서 확인하세요:",
    no_reply: "이 메일은 발신 전용입니다.",
    changes: [
        "수강신청 완료",
        "수강취소",
        "수강 추가(학사 담당)",
        "수강 삭제(학사 담당)",
    ],
    days: ["월", "화", "수", "목", "금", "토", "일"],
    no_meetings: "시간 미정",
};

static EN: Words = Words {
    tag: "[Course registration]",
    digest_subject: "Your enrollments changed",
    greeting: |name| format!("Dear {name},"),
    intro: "Your enrollments changed as follows.",
    see_page: "See all your enrollments on the registration page:",
    no_reply: "This mail was sent from an address that does not take replies.",
    changes: [
        "Enrolled",
        "Cancelled",
        "Added by the registrar",
        "Dropped by the registrar",
    ],
    days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    no_meetings: "no scheduled meetings",
};

/// `월 09:00–10:15, 수 09:00–10:15`.
fn schedule(lang: Language, meetings: &[Meeting]) -> String {
    let words = Words::of(lang);
    if meetings.is_empty() {
        return words.no_meetings.to_string();
    }
    meetings
        .iter()
        .map(|m| {
            let day = match m.day {
                Day::MON => 0,
                Day::TUE => 1,
                Day::WED => 2,
                Day::THU => 3,
                Day::FRI => 4,
                Day::SAT => 5,
                Day::SUN => 6,
            };
            format!("{} {}–{}", words.days[day], m.start, m.end)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text safe inside HTML elements and attribute values.
/// `s` for HTML text or a double-quoted attribute value.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::TimeOfDay;

    fn line(change: Change, code: &str, name: &str) -> ChangeLine {
        ChangeLine {
            change,
            code: code.into(),
            name: name.into(),
            schedule: vec![Meeting {
                day: Day::MON,
                start: TimeOfDay::parse("09:00").unwrap(),
                end: TimeOfDay::parse("10:15").unwrap(),
            }],
        }
    }

    #[test]
    fn one_change_names_the_course_in_the_subject() {
        let m = compose(
            Language::Ko,
            "김민준",
            &[line(Change::Enrolled, "CSE3010-01", "데이터베이스")],
            "https://enroll.univ.test/",
        );
        assert_eq!(
            m.subject,
            "[수강신청] 수강신청 완료: CSE3010-01 데이터베이스"
        );
        assert!(m.text.contains("김민준님"), "{}", m.text);
        assert!(
            m.text
                .contains("- 수강신청 완료: CSE3010-01 데이터베이스 (월 09:00–10:15)"),
            "{}",
            m.text
        );
        assert!(m.text.contains("https://enroll.univ.test/"));
        assert!(m.html.contains("<a href=\"https://enroll.univ.test/\">"));
    }

    #[test]
    fn a_digest_lists_every_change_in_english_when_asked() {
        let m = compose(
            Language::En,
            "Alex",
            &[
                line(Change::Enrolled, "CSE1", "Databases"),
                line(Change::Cancelled, "MAT2", "Algebra"),
            ],
            "https://e.test/",
        );
        assert_eq!(m.subject, "[Course registration] Your enrollments changed");
        assert!(m
            .text
            .contains("- Enrolled: CSE1 Databases (Mon 09:00–10:15)"));
        assert!(m
            .text
            .contains("- Cancelled: MAT2 Algebra (Mon 09:00–10:15)"));
        assert_eq!(m.html.matches("<li>").count(), 2);
    }

    #[test]
    fn html_escapes_what_admins_and_students_typed() {
        let m = compose(
            Language::En,
            "<b>x</b>",
            &[line(Change::Added, "C&1", "A \"quoted\" <course>")],
            "https://e.test/",
        );
        assert!(m.html.contains("&lt;b&gt;x&lt;/b&gt;"), "{}", m.html);
        assert!(m
            .html
            .contains("C&amp;1 A &quot;quoted&quot; &lt;course&gt;"));
        assert!(!m.html.contains("<b>"));
    }
}
