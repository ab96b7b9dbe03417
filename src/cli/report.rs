//! `postdesk report`: the numbers managers ask for, per mailbox and per
//! agent, as text, JSON, or one self-contained HTML page with inline SVG
//! charts (daily volume, first-response times, SLA compliance over time,
//! busiest hours). The numbers come from [`crate::domain::report`].

use super::when;
use crate::domain::report::{Group, RESPONSE_BUCKETS, Report};
use minijinja::HtmlEscape;
use std::fmt::Write;

fn minutes(m: Option<i64>) -> String {
    match m {
        None => "-".into(),
        Some(m) if m < 60 => format!("{m}m"),
        Some(m) if m < 24 * 60 => format!("{}h{:02}m", m / 60, m % 60),
        Some(m) => format!("{}d{:02}h", m / 1440, (m % 1440) / 60),
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{p:.1}%"))
}

fn busiest(g: &Group) -> String {
    let mut hours: Vec<(usize, u64)> = g
        .busiest_hours
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .collect();
    hours.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<String> = hours
        .iter()
        .take(3)
        .map(|(h, n)| format!("{h:02}:00 ({n})"))
        .collect();
    if top.is_empty() {
        "-".into()
    } else {
        top.join(", ")
    }
}

fn text_group(out: &mut String, g: &Group, hours: bool) {
    let _ = writeln!(out, "  {}", g.name);
    let _ = writeln!(
        out,
        "    tickets opened {}  resolved {}",
        g.opened, g.resolved
    );
    let _ = writeln!(
        out,
        "    first response: median {}  p90 {}  ({} answered)",
        minutes(g.first_response_median_minutes),
        minutes(g.first_response_p90_minutes),
        g.first_responses
    );
    let _ = writeln!(
        out,
        "    SLA: {} met, {} breached, compliance {}",
        g.sla_met,
        g.sla_breached,
        pct(g.sla_compliance_percent)
    );
    let _ = writeln!(
        out,
        "    reopened {}  reopen rate {}",
        g.reopened,
        pct(g.reopen_rate_percent)
    );
    let dist: Vec<String> = g
        .rating_distribution
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}:{n}", i + 1))
        .collect();
    let _ = writeln!(
        out,
        "    satisfaction: {} from {} rating(s)  [{}]",
        g.rating_average.map_or("-".into(), |a| format!("{a:.2}")),
        g.ratings,
        dist.join(" ")
    );
    if hours {
        let _ = writeln!(out, "    busiest hours: {}", busiest(g));
    }
}

pub fn text(r: &Report, tz: &jiff::tz::TimeZone) -> String {
    let mut out = format!(
        "postdesk report, {} to {}\n\nMailboxes\n",
        when::show(r.since, tz),
        when::show(r.until, tz)
    );
    if r.mailboxes.is_empty() {
        out.push_str("  (no tickets in this period)\n");
    }
    for g in &r.mailboxes {
        text_group(&mut out, g, true);
    }
    out.push_str("\nAgents (tickets assigned to them)\n");
    if r.agents.is_empty() {
        out.push_str("  (nobody was assigned a ticket in this period)\n");
    }
    for g in &r.agents {
        text_group(&mut out, g, false);
    }
    out
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 30.0;

/// The start of a chart: a captioned figure and the SVG element `id`.
fn open_svg(id: &str, title: &str, height: f64) -> String {
    format!(
        r#"<figure><figcaption>{t}</figcaption><svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = HtmlEscape(title)
    )
}

/// A bar chart: one group of bars per label, one bar per series.
fn bars(id: &str, title: &str, labels: &[String], series: &[(&str, &str, Vec<f64>)]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(1.0_f64, f64::max);
    let slot = (WIDTH - 2.0 * PAD) / labels.len().max(1) as f64;
    let bar = (slot * 0.8) / series.len().max(1) as f64;
    let mut svg = open_svg(id, title, HEIGHT + 2.0 * PAD + 20.0);
    let base = HEIGHT + PAD;
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{base}" x2="{}" y2="{base}" stroke="#999"/>"##,
        WIDTH - PAD
    );
    let _ = write!(
        svg,
        r##"<text x="{PAD}" y="{}" font-size="10" fill="#666">{max}</text>"##,
        PAD - 8.0
    );
    let every = (labels.len() / 12).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x0 = PAD + i as f64 * slot + slot * 0.1;
        for (k, (name, color, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let h = HEIGHT * v / max;
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{} {}: {v}</title></rect>"#,
                x0 + k as f64 * bar,
                base - h,
                bar.max(1.0),
                HtmlEscape(label),
                HtmlEscape(name)
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="10" fill="#333">{}</text>"##,
                x0,
                base + 14.0,
                HtmlEscape(label)
            );
        }
    }
    let mut lx = PAD;
    for (name, color, _) in series {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            HEIGHT + PAD + 22.0,
            lx + 14.0,
            HEIGHT + PAD + 31.0,
            HtmlEscape(name)
        );
        lx += 110.0;
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A line chart of percentages; days without data leave a gap.
fn line(id: &str, title: &str, labels: &[String], values: &[Option<f64>]) -> String {
    let slot = (WIDTH - 2.0 * PAD) / labels.len().max(1) as f64;
    let base = HEIGHT + PAD;
    let mut svg = open_svg(id, title, HEIGHT + 2.0 * PAD);
    for p in [0.0, 50.0, 100.0] {
        let y = base - HEIGHT * p / 100.0;
        let _ = write!(
            svg,
            r##"<line x1="{PAD}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="2" y="{}" font-size="10" fill="#666">{p}%</text>"##,
            WIDTH - PAD,
            y + 3.0
        );
    }
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        let x = PAD + (i as f64 + 0.5) * slot;
        match v {
            Some(v) => {
                let y = base - HEIGHT * v / 100.0;
                let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                let _ = write!(
                    svg,
                    r##"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="3" fill="#2a7"><title>{}: {v:.1}%</title></circle>"##,
                    HtmlEscape(&labels[i])
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !path.is_empty() {
        let _ = write!(
            svg,
            r##"<path d="{}" fill="none" stroke="#2a7" stroke-width="2"/>"##,
            path.trim_end()
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn html_group(out: &mut String, g: &Group, charts: bool, slug: &str) {
    let _ = write!(
        out,
        "<section><h2>{}</h2><table><tr><th>opened</th><th>resolved</th><th>first response, median</th><th>p90</th>\
         <th>SLA compliance</th><th>breaches</th><th>reopen rate</th><th>satisfaction</th><th>busiest hours</th></tr>\
         <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({} ratings)</td><td>{}</td></tr></table>",
        HtmlEscape(&g.name),
        g.opened,
        g.resolved,
        minutes(g.first_response_median_minutes),
        minutes(g.first_response_p90_minutes),
        pct(g.sla_compliance_percent),
        g.sla_breached,
        pct(g.reopen_rate_percent),
        g.rating_average.map_or("-".into(), |a| format!("{a:.2}")),
        g.ratings,
        HtmlEscape(&busiest(g))
    );
    if charts {
        let days: Vec<String> = g
            .days
            .iter()
            .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
            .collect();
        out.push_str(&bars(
            &format!("volume-{slug}"),
            "Tickets per day",
            &days,
            &[
                (
                    "opened",
                    "#3b7dd8",
                    g.days.iter().map(|d| d.opened as f64).collect(),
                ),
                (
                    "resolved",
                    "#2a7",
                    g.days.iter().map(|d| d.resolved as f64).collect(),
                ),
            ],
        ));
        let buckets: Vec<String> = RESPONSE_BUCKETS
            .iter()
            .map(|(l, _)| l.to_string())
            .collect();
        out.push_str(&bars(
            &format!("response-{slug}"),
            "First-response time",
            &buckets,
            &[(
                "tickets",
                "#d8893b",
                g.first_response_distribution
                    .iter()
                    .map(|n| *n as f64)
                    .collect(),
            )],
        ));
        let compliance: Vec<Option<f64>> = g
            .days
            .iter()
            .map(|d| {
                let n = d.sla_met + d.sla_breached;
                (n > 0).then(|| 100.0 * d.sla_met as f64 / n as f64)
            })
            .collect();
        out.push_str(&line(
            &format!("sla-{slug}"),
            "SLA compliance per day",
            &days,
            &compliance,
        ));
        let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
        out.push_str(&bars(
            &format!("hours-{slug}"),
            "Customer messages by hour",
            &hours,
            &[(
                "messages",
                "#7a5cc7",
                g.busiest_hours.iter().map(|n| *n as f64).collect(),
            )],
        ));
    }
    out.push_str("</section>");
}

pub fn html(r: &Report, tz: &jiff::tz::TimeZone) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>postdesk report</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0 1rem}}th,td{{border:1px solid #ccc;padding:.3rem .6rem;font-size:.9rem}}\
         th{{background:#f3f3f3}}svg.chart{{width:100%;max-width:{WIDTH}px;display:block;margin:.5rem 0 1.5rem}}\
         section{{margin-bottom:2rem}}figure{{margin:1rem 0}}figcaption{{font-weight:600;font-size:.95rem}}</style></head><body><h1>postdesk report</h1><p>{} to {}</p><h1>Mailboxes</h1>",
        when::show(r.since, tz),
        when::show(r.until, tz)
    );
    if r.mailboxes.is_empty() {
        out.push_str("<p>No tickets in this period.</p>");
    }
    for (i, g) in r.mailboxes.iter().enumerate() {
        html_group(&mut out, g, true, &format!("m{i}"));
    }
    out.push_str("<h1>Agents</h1>");
    if r.agents.is_empty() {
        out.push_str("<p>Nobody was assigned a ticket in this period.</p>");
    }
    for (i, g) in r.agents.iter().enumerate() {
        html_group(&mut out, g, false, &format!("a{i}"));
    }
    out.push_str("</body></html>\n");
    out
}
