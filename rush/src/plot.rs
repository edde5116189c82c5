//! `rush-plot.svg`: queue length and decisions over time, hand-written SVG
//! (two panels sharing the time axis).

use std::fmt::Write;

use crate::wave::Sample;

const W: f64 = 900.0;
const PANEL_H: f64 = 260.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const GAP: f64 = 70.0;

/// One line: label, colour, points `(seconds, value)`.
struct Series<'a> {
    label: &'a str,
    colour: &'a str,
    points: Vec<(f64, f64)>,
}

/// Renders the samples of a rush wave.
pub fn render(samples: &[Sample], title: &str) -> String {
    let ok: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.queue_length.is_finite())
        .collect();
    let base = ok.first().map_or(0.0, |s| s.decisions_total);
    let t = |s: &Sample| s.t_ms / 1e3;
    let x_max = samples.iter().map(t).fold(0.0_f64, f64::max).max(0.1);
    let queue = [Series {
        label: "queue length (enroll_queue_length, summed)",
        colour: "#1f77b4",
        points: ok.iter().map(|s| (t(s), s.queue_length)).collect(),
    }];
    let counts = [
        Series {
            label: "decisions (enroll_admission_decisions_total, since start)",
            colour: "#d62728",
            points: ok
                .iter()
                .map(|s| (t(s), s.decisions_total - base))
                .collect(),
        },
        Series {
            label: "tickets acknowledged (rush)",
            colour: "#2ca02c",
            points: samples.iter().map(|s| (t(s), s.acked as f64)).collect(),
        },
        Series {
            label: "tickets seen decided (rush)",
            colour: "#ff7f0e",
            points: samples.iter().map(|s| (t(s), s.decided as f64)).collect(),
        },
    ];
    let height = TOP + 2.0 * PANEL_H + GAP + 60.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\">{}</text>\n",
        escape(title)
    );
    panel(&mut svg, TOP, "queue length", &queue, x_max);
    panel(&mut svg, TOP + PANEL_H + GAP, "tickets", &counts, x_max);
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, top: f64, y_label: &str, series: &[Series], x_max: f64) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, top + PANEL_H, top);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let sx = |x: f64| x0 + (x1 - x0) * x / x_max;
    let sy = |y: f64| y0 - (y0 - y1) * y / y_max;
    let _ = writeln!(
        svg,
        "<rect x=\"{x0}\" y=\"{y1}\" width=\"{}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#888\"/>",
        x1 - x0
    );
    for i in 0..=5 {
        let (fx, fy) = (x_max * i as f64 / 5.0, y_max * i as f64 / 5.0);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{fx:.1}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{fy:.0}</text>\n\
             <line x1=\"{x0}\" x2=\"{x1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
            sx(fx),
            y0 + 16.0,
            x0 - 6.0,
            sy(fy) + 4.0,
            sy(fy),
            sy(fy)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time since the first request (s)</text>\n\
         <text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        y0 + 34.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let ly = y1 + 16.0 + 16.0 * i as f64;
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\" points=\"{}\"/>\n\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-width=\"3\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            pts.join(" "),
            x0 + 10.0,
            x0 + 30.0,
            ly - 4.0,
            ly - 4.0,
            x0 + 36.0,
            ly,
            escape(s.label),
            c = s.colour
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_series_as_polylines() {
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample {
                t_ms: i as f64 * 100.0,
                queue_length: (10 - i) as f64,
                decisions_total: 5.0 + i as f64 * 10.0,
                acked: i * 12,
                decided: i * 10,
            })
            .collect();
        let svg = render(&samples, "rush <test>");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("rush &lt;test&gt;"));
        assert!(svg.contains("queue length"));
        // The decisions line starts at 0 (since the start), at the panel's bottom.
        assert!(svg.contains("points=\"80.0,630.0"), "{svg}");
    }
}
