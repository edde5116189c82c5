//! Figures read from the server's `/metrics` page (Prometheus text):
//! queue lengths, decisions and the admission histograms, summed over
//! label sets.

/// The admission histograms' `(batches, tickets decided, seconds in
/// transactions)` from `/metrics`, summed over label sets.
pub fn admission_totals(text: &str) -> (f64, f64, f64) {
    let sum = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.split([' ', '{']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (
        sum("enroll_admission_batch_size_count"),
        sum("enroll_admission_batch_size_sum"),
        sum("enroll_admission_commit_seconds_sum"),
    )
}

/// Sums `enroll_queue_length` and `enroll_admission_decisions_total` over
/// their label sets in a Prometheus text exposition.
pub fn sum_metrics(text: &str) -> (f64, f64) {
    let (mut queue, mut decisions) = (0.0, 0.0);
    for line in text.lines() {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let target = match &line[..name_end] {
            "enroll_queue_length" => &mut queue,
            "enroll_admission_decisions_total" => &mut decisions,
            _ => continue,
        };
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *target += v;
        }
    }
    (queue, decisions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_metric_families_over_labels() {
        let text = "# HELP enroll_queue_length Tickets waiting.\n# TYPE enroll_queue_length gauge\n\
                    enroll_queue_length{course=\"1\"} 5\nenroll_queue_length{course=\"2\"} 7\n\
                    enroll_queue_length_other 100\n\
                    enroll_admission_decisions_total{outcome=\"enrolled\",reason=\"\"} 40\n\
                    enroll_admission_decisions_total{outcome=\"rejected\",reason=\"course_full\"} 2\n";
        assert_eq!(sum_metrics(text), (12.0, 42.0));
    }

    #[test]
    fn admission_totals_from_histograms() {
        let text = "enroll_admission_batch_size_bucket{le=\"1\"} 3\nenroll_admission_batch_size_sum 500\n\
                    enroll_admission_batch_size_count 10\nenroll_admission_commit_seconds_sum 0.25\n\
                    enroll_admission_commit_seconds_count 10\n";
        assert_eq!(admission_totals(text), (10.0, 500.0, 0.25));
    }
}
