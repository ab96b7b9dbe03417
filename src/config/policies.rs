//! `[sla.NAME]` policies, their rules and escalations, and
//! `[calendar.NAME]` business hours and holidays.

use super::*;

pub(super) fn read_rule(n: &Node<'_>, policies: &[String]) -> Option<PolicyRule> {
    let sla = n.req_str("sla");
    if let Some(s) = &sla
        && !policies.contains(s)
    {
        n.problem(
            "sla",
            format!(
                "expected the name of an [sla.NAME] policy ({}), got {s:?}",
                list_or_none(policies)
            ),
        );
    }
    let customers: Vec<String> = n
        .opt_str_list("customer")
        .unwrap_or_default()
        .iter()
        .map(|c| c.trim().trim_start_matches("*@").to_lowercase())
        .collect();
    let subject_words: Vec<String> = n
        .opt_str_list("subject")
        .unwrap_or_default()
        .iter()
        .map(|w| crate::domain::fold::fold(w))
        .collect();
    let priority = n
        .opt_choice("priority", Priority::NAMES)
        .and_then(Priority::parse);
    let set_priority = n
        .opt_choice("set_priority", Priority::NAMES)
        .and_then(Priority::parse);
    let mailbox = n.opt_str("mailbox");
    if customers.is_empty() && subject_words.is_empty() && priority.is_none() && mailbox.is_none() {
        n.problem(
            "customer",
            "a rule needs at least one condition: customer, subject, priority or mailbox",
        );
    }
    n.finish();
    Some(PolicyRule {
        mailbox,
        customers,
        priority,
        subject_words,
        sla: sla?,
        set_priority,
    })
}

pub(super) fn read_policy(n: &Node<'_>, calendars: &[String]) -> Option<SlaPolicy> {
    let mut p = SlaPolicy::default();
    if let Some(d) = n.opt_span("first_response") {
        p.first_response = d;
    }
    if let Some(d) = n.opt_span("next_response") {
        p.next_response = d;
    }
    p.resolution = n.opt_span("resolution");
    p.calendar = n.opt_str("calendar");
    if let Some(c) = &p.calendar
        && !calendars.contains(c)
    {
        n.problem(
            "calendar",
            format!(
                "expected the name of a [calendar.NAME] ({}), got {c:?}",
                list_or_none(calendars)
            ),
        );
    }
    p.warn_before = read_share(n, "warn_before");
    match p.warn_before {
        Some(Share::Duration(d)) if d >= p.first_response.nominal() => n.problem(
            "warn_before",
            format!(
                "must be shorter than first_response ({})",
                crate::domain::fmt_duration(p.first_response.nominal())
            ),
        ),
        Some(Share::Percent(x)) if x >= 100 => {
            n.problem("warn_before", "a share must be below 100%")
        }
        _ => {}
    }
    for e in n.tables("escalation") {
        let after = match e.get("after").and_then(|v| v.as_str()) {
            Some("breach") | None => EscalateAfter::Breach,
            Some(_) => read_share(&e, "after").map_or(EscalateAfter::Breach, EscalateAfter::Later),
        };
        if !e.has("after") {
            e.problem(
                "after",
                r#"is required: "breach", a duration like "2h" or a share like "150%""#,
            );
        }
        let notify = e.opt_str_list("notify").unwrap_or_default();
        if notify.is_empty() {
            e.problem(
                "notify",
                r#"expected at least one recipient: "assignee", "agents" or an email address"#,
            );
        }
        let mut targets = Vec::new();
        for (i, t) in notify.iter().enumerate() {
            match NotifyTarget::parse(t) {
                Some(target) => targets.push(target),
                None => e.problems().add(
                    format!("{}[{i}]", e.key_path("notify")),
                    format!(r#"expected "assignee", "agents" or an email address, got {t:?}"#),
                ),
            }
        }
        let set_priority = e
            .opt_choice("set_priority", Priority::NAMES)
            .and_then(Priority::parse);
        let template = e.opt_str("template");
        e.finish();
        p.escalation.push(EscalationLevel {
            after,
            notify: targets,
            set_priority,
            template,
        });
    }
    n.finish();
    Some(p)
}

pub(super) fn read_calendar(n: &Node<'_>, base: &Path) -> Option<Calendar> {
    let timezone = if n.has("timezone") {
        read_timezone(n, "timezone")
    } else {
        n.problem(
            "timezone",
            r#"is required (an IANA time zone such as "Europe/Athens")"#,
        );
        None
    };
    let mut hours = WeeklyHours::default();
    match n.table("hours") {
        Some(h) => {
            for k in h.keys() {
                if let Some(v) = h.opt_str(&k)
                    && let Err(e) = hours.add(&k, &v)
                {
                    h.problem(&k, e);
                }
            }
            if h.problems().is_empty() && hours.is_empty() {
                n.problem(
                    "hours",
                    "no opening hours at all: deadlines would never arrive",
                );
            }
        }
        None if !n.has("hours") => n.problem(
            "hours",
            r#"is required, e.g. hours = { mon-fri = "09:00-17:00" }"#,
        ),
        None => {}
    }
    let mut holidays = std::collections::BTreeSet::new();
    for (i, d) in n
        .opt_str_list("holidays")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match d.parse::<jiff::civil::Date>() {
            Ok(date) => {
                holidays.insert(date);
            }
            Err(_) => n.problems().add(
                format!("{}[{i}]", n.key_path("holidays")),
                format!(r#"expected a date like "2026-12-25", got {d:?}"#),
            ),
        }
    }
    if let Some(file) = n.opt_str("holidays_file") {
        let path = resolve_path(base, &file);
        match std::fs::read_to_string(&path) {
            Ok(text) => holidays.extend(crate::domain::calendar::ics_dates(&text)),
            Err(e) => n.problem(
                "holidays_file",
                format!("cannot read {}: {e}", path.display()),
            ),
        }
    }
    n.finish();
    Some(Calendar {
        timezone: timezone?,
        hours,
        holidays,
    })
}

pub(super) fn read_share(n: &Node<'_>, key: &str) -> Option<Share> {
    let v = n.get(key)?;
    let s = v.as_str().unwrap_or_default().trim();
    if let Some(p) = s.strip_suffix('%') {
        if let Ok(p) = p.trim().parse::<u32>()
            && (1..=1000).contains(&p)
        {
            return Some(Share::Percent(p));
        }
    } else if let Ok(d) = parse_duration(s) {
        return Some(Share::Duration(d));
    }
    n.problem(
        key,
        format!(
            r#"expected a duration like "4h" or a share like "80%", got {}"#,
            reader::shown(v)
        ),
    );
    None
}
