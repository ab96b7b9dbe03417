//! `postdesk report`: the numbers managers ask for, per mailbox and per
//! agent, as text, JSON, or one self-contained HTML page with inline SVG
//! charts (daily volume, first-response times, SLA compliance over time,
//! busiest hours). The numbers come from [`crate::domain::report`].

use super::args::ReportFormat;
use super::{CliResult, when};
use crate::config::Config;
use crate::domain::report::{Group, RESPONSE_BUCKETS, Report};
use crate::store::Store;
use jiff::Timestamp;
use jiff::tz::TimeZone;
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
    match &g.display_name {
        Some(n) if *n != g.name => {
            let _ = writeln!(out, "  {n} ({})", g.name);
        }
        _ => {
            let _ = writeln!(out, "  {}", g.name);
        }
    }
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

/// `postdesk report`: the tickets of `from`..`until` in `format`, every
/// configured mailbox in it (a quiet one as one line), mailboxes and
/// agents by their configured names.
pub async fn run(
    config: &Config,
    store: &Store,
    from: Timestamp,
    until: Timestamp,
    tz: &TimeZone,
    format: ReportFormat,
) -> CliResult {
    let (tickets, arrivals) = store.report_rows(from, until).await?;
    let zone_of = |mailbox: &str| {
        config
            .mailbox(mailbox)
            .map_or(TimeZone::UTC, |m| config.mailbox_tz(m))
    };
    let mut r = crate::domain::report::build(&tickets, &arrivals, from, until, zone_of);
    for m in &config.mailboxes {
        if !r.mailboxes.iter().any(|g| g.name == m.name) {
            r.mailboxes.push(Group {
                name: m.name.clone(),
                ..Default::default()
            });
        }
    }
    for g in &mut r.mailboxes {
        g.display_name = config.mailbox(&g.name).map(|m| m.display_name.clone());
    }
    for g in &mut r.agents {
        g.display_name = config
            .agents
            .iter()
            .find(|a| a.email == g.name)
            .map(|a| a.name.clone())
            .filter(|n| !n.is_empty());
    }
    match format {
        ReportFormat::Text => print!("{}", text(&r, tz)),
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&r).expect("a report serialises")
        ),
        ReportFormat::Html => print!("{}", html(&r, tz)),
    }
    Ok(super::exit::OK)
}

pub fn text(r: &Report, tz: &jiff::tz::TimeZone) -> String {
    let mut out = format!(
        "postdesk report, {} to {}\n\nAll mailboxes\n",
        when::show(r.since, tz),
        when::show(r.until, tz)
    );
    text_group(&mut out, &r.total, false);
    out.push_str("\nMailboxes\n");
    if r.mailboxes.is_empty() {
        out.push_str("  (no tickets in this period)\n");
    }
    for g in &r.mailboxes {
        if g.is_empty() {
            let _ = writeln!(
                out,
                "  {}: no tickets or customer mail in this period",
                g.label()
            );
            continue;
        }
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
const HEIGHT: f64 = 180.0;
/// Room for the y axis's numbers and name on the left.
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;

/// Round y-axis ticks for values up to `max`: steps of 1, 2 or 5 × 10ⁿ,
/// at most six of them, the last at or above `max`.
pub fn ticks(max: f64) -> Vec<f64> {
    let max = max.max(1.0);
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0);
    let top = (max / step).ceil() * step;
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= top + step / 2.0)
        .collect()
}

/// The start of a chart: a captioned figure and the SVG element `id`.
fn open_svg(id: &str, title: &str, height: f64) -> String {
    format!(
        r#"<figure><figcaption>{t}</figcaption><svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = HtmlEscape(title)
    )
}

/// Gridlines and numbers of the y axis, its name turned upright, and the
/// x axis's name under the labels.
fn axes(svg: &mut String, ticks: &[f64], top: f64, y_name: &str, x_name: &str, unit: &str) {
    let base = TOP + HEIGHT;
    for v in ticks {
        let y = base - HEIGHT * v / top;
        let _ = write!(
            svg,
            r##"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}"/><text class="tick" x="{}" y="{:.1}" font-size="12" fill="#555" text-anchor="end">{v}{unit}</text>"##,
            WIDTH - RIGHT,
            if *v == 0.0 { "#888" } else { "#e4e4e4" },
            LEFT - 5.0,
            y + 3.5
        );
    }
    let _ = write!(
        svg,
        r##"<text class="axis-name" x="12" y="{:.1}" font-size="12" fill="#555" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text><text class="axis-name" x="{:.1}" y="{:.1}" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
        TOP + HEIGHT / 2.0,
        TOP + HEIGHT / 2.0,
        HtmlEscape(y_name),
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        base + 30.0,
        HtmlEscape(x_name)
    );
}

/// What a bar chart draws: a label per slot, one series per colour.
struct BarChart<'a> {
    id: String,
    title: &'a str,
    y_name: &'a str,
    x_name: &'a str,
    labels: Vec<String>,
    series: Vec<(&'a str, &'a str, Vec<f64>)>,
    /// Said instead of an empty chart.
    when_empty: &'a str,
}

/// A bar chart with a y axis of round ticks, or one line when it would be empty.
fn bars(c: &BarChart<'_>) -> String {
    let max = c
        .series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return format!(
            r#"<p class="empty" id="{}">{}</p>"#,
            c.id,
            HtmlEscape(c.when_empty)
        );
    }
    let ticks = ticks(max);
    let top = *ticks.last().unwrap_or(&1.0);
    let plot = WIDTH - LEFT - RIGHT;
    let slot = plot / c.labels.len().max(1) as f64;
    let bar = (slot * 0.8) / c.series.len().max(1) as f64;
    let legend = c.series.len() > 1;
    let mut svg = open_svg(
        &c.id,
        c.title,
        TOP + HEIGHT + 40.0 + if legend { 20.0 } else { 0.0 },
    );
    axes(&mut svg, &ticks, top, c.y_name, c.x_name, "");
    let base = TOP + HEIGHT;
    let every = (c.labels.len() / 8).max(1);
    for (i, label) in c.labels.iter().enumerate() {
        let x0 = LEFT + i as f64 * slot + slot * 0.1;
        for (k, (name, color, values)) in c.series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let h = HEIGHT * v / top;
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
                r##"<text class="label" x="{:.1}" y="{}" font-size="12" fill="#333" text-anchor="middle">{}</text>"##,
                LEFT + (i as f64 + 0.5) * slot,
                base + 14.0,
                HtmlEscape(label)
            );
        }
    }
    if legend {
        let mut lx = LEFT;
        for (name, color, _) in &c.series {
            let _ = write!(
                svg,
                r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
                base + 42.0,
                lx + 14.0,
                base + 51.0,
                HtmlEscape(name)
            );
            lx += 110.0;
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A line chart of percentages; days without data leave a gap.
fn line(id: &str, title: &str, labels: &[String], values: &[Option<f64>]) -> String {
    if values.iter().all(Option::is_none) {
        return format!(
            r#"<p class="empty" id="{id}">No SLA clock stopped in this period: no compliance to draw.</p>"#
        );
    }
    let plot = WIDTH - LEFT - RIGHT;
    let slot = plot / labels.len().max(1) as f64;
    let base = TOP + HEIGHT;
    let mut svg = open_svg(id, title, TOP + HEIGHT + 40.0);
    axes(
        &mut svg,
        &[0.0, 25.0, 50.0, 75.0, 100.0],
        100.0,
        "met on time",
        "day the ticket opened",
        "%",
    );
    let every = (labels.len() / 8).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            svg,
            r##"<text class="label" x="{:.1}" y="{}" font-size="12" fill="#333" text-anchor="middle">{}</text>"##,
            LEFT + (i as f64 + 0.5) * slot,
            base + 14.0,
            HtmlEscape(label)
        );
    }
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        let x = LEFT + (i as f64 + 0.5) * slot;
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

/// The figures of one group: a grid of small tiles that wraps on a phone.
fn figures(g: &Group) -> String {
    let items = [
        ("opened", g.opened.to_string()),
        ("resolved", g.resolved.to_string()),
        (
            "first response, median",
            minutes(g.first_response_median_minutes),
        ),
        ("first response, p90", minutes(g.first_response_p90_minutes)),
        ("SLA compliance", pct(g.sla_compliance_percent)),
        ("SLA breaches", g.sla_breached.to_string()),
        ("reopen rate", pct(g.reopen_rate_percent)),
        (
            "satisfaction",
            format!(
                "{} ({} ratings)",
                g.rating_average.map_or("-".into(), |a| format!("{a:.2}")),
                g.ratings
            ),
        ),
        ("busiest hours", busiest(g)),
    ];
    let mut out = String::from(r#"<dl class="figures">"#);
    for (what, value) in items {
        let _ = write!(
            out,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            HtmlEscape(what),
            HtmlEscape(&value)
        );
    }
    out.push_str("</dl>");
    out
}

/// The heading of a group: its name, and its key beside it when they differ.
fn heading(g: &Group) -> String {
    match &g.display_name {
        Some(n) if *n != g.name => format!(
            "<h2>{} <small>{}</small></h2>",
            HtmlEscape(n),
            HtmlEscape(&g.name)
        ),
        _ => format!("<h2>{}</h2>", HtmlEscape(&g.name)),
    }
}

fn html_group(out: &mut String, g: &Group, charts: bool, slug: &str) {
    out.push_str("<section>");
    out.push_str(&heading(g));
    if g.is_empty() {
        out.push_str(
            r#"<p class="empty">No tickets or customer mail in this period.</p></section>"#,
        );
        return;
    }
    out.push_str(&figures(g));
    if charts {
        let days: Vec<String> = g
            .days
            .iter()
            .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
            .collect();
        out.push_str(&bars(&BarChart {
            id: format!("volume-{slug}"),
            title: "Tickets per day",
            y_name: "tickets",
            x_name: "day (month-day)",
            labels: days.clone(),
            series: vec![
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
            when_empty: "No ticket opened or resolved in this period.",
        }));
        out.push_str(&bars(&BarChart {
            id: format!("response-{slug}"),
            title: "First-response time",
            y_name: "tickets",
            x_name: "time to the first answer",
            labels: RESPONSE_BUCKETS
                .iter()
                .map(|(l, _)| l.to_string())
                .collect(),
            series: vec![(
                "tickets",
                "#d8893b",
                g.first_response_distribution
                    .iter()
                    .map(|n| *n as f64)
                    .collect(),
            )],
            when_empty: "No ticket had its first answer in this period.",
        }));
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
        out.push_str(&bars(&BarChart {
            id: format!("hours-{slug}"),
            title: "Customer messages by hour",
            y_name: "messages",
            x_name: "hour of the day (mailbox time)",
            labels: (0..24).map(|h| format!("{h:02}")).collect(),
            series: vec![(
                "messages",
                "#7a5cc7",
                g.busiest_hours.iter().map(|n| *n as f64).collect(),
            )],
            when_empty: "No customer mail in this period.",
        }));
    }
    out.push_str("</section>");
}

/// The period's totals, as large figures at the top of the page.
fn totals(g: &Group) -> String {
    let tile = |value: String, what: &str| {
        format!(
            r#"<div class="tile"><div class="value">{}</div><div class="what">{}</div></div>"#,
            HtmlEscape(&value),
            HtmlEscape(what)
        )
    };
    let mut out = String::from(r#"<div class="totals" id="totals">"#);
    out.push_str(&tile(g.opened.to_string(), "tickets opened"));
    out.push_str(&tile(g.resolved.to_string(), "tickets resolved"));
    out.push_str(&tile(
        minutes(g.first_response_median_minutes),
        "median first response",
    ));
    out.push_str(&tile(pct(g.sla_compliance_percent), "SLA compliance"));
    out.push_str(&tile(g.sla_breached.to_string(), "SLA breaches"));
    out.push_str(&tile(
        g.rating_average
            .map_or("-".into(), |a| format!("{a:.1} / 5")),
        &format!("satisfaction ({} ratings)", g.ratings),
    ));
    out.push_str("</div>");
    out
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem;color:#222}\
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .3rem}h2 small{font-weight:400;color:#666;font-size:.85rem}\
.period{color:#555;margin-top:0}\
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:.6rem;margin:1rem 0 2rem}\
.tile{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem;background:#fafafa}\
.tile .value{font-size:1.5rem;font-weight:600}.tile .what{font-size:.8rem;color:#555}\
dl.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.4rem;margin:.5rem 0 1rem}\
dl.figures div{border:1px solid #e0e0e0;border-radius:4px;padding:.3rem .5rem}\
dt{font-size:.75rem;color:#555}dd{margin:0;font-weight:600}\
svg.chart{width:100%;max-width:640px;height:auto;display:block;margin:.3rem 0 1.2rem}\
section{margin-bottom:2rem}figure{margin:1rem 0}figcaption{font-weight:600;font-size:.95rem}\
p.empty{color:#666;font-style:italic}\
@media (max-width:600px){body{margin:1rem auto}dl.figures{grid-template-columns:1fr 1fr}}\
@media print{body{margin:0;max-width:none;color:#000}.tile{background:none}\
figure,dl,.totals{break-inside:avoid}h1,h2{break-after:avoid}\
@page{margin:1.5cm}}";

pub fn html(r: &Report, tz: &jiff::tz::TimeZone) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>postdesk report</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head>\
         <body><h1>postdesk report</h1><p class=\"period\">{} to {}</p>",
        when::show(r.since, tz),
        when::show(r.until, tz)
    );
    out.push_str(&totals(&r.total));
    out.push_str("<h1>Mailboxes</h1>");
    if r.mailboxes.is_empty() {
        out.push_str(r#"<p class="empty">No tickets in this period.</p>"#);
    }
    for (i, g) in r.mailboxes.iter().enumerate() {
        html_group(&mut out, g, true, &format!("m{i}"));
    }
    out.push_str("<h1>Agents</h1>");
    if r.agents.is_empty() {
        out.push_str(r#"<p class="empty">Nobody was assigned a ticket in this period.</p>"#);
    }
    for (i, g) in r.agents.iter().enumerate() {
        html_group(&mut out, g, false, &format!("a{i}"));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::ticks;

    #[test]
    fn y_axis_ticks_are_round() {
        assert_eq!(ticks(1.0), vec![0.0, 1.0]);
        assert_eq!(ticks(3.0), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(ticks(7.0), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(42.0), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(ticks(230.0), vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
    }
}
