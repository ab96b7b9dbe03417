//! Customers' files on their way to agents: which of a mail's files fit in
//! a notification (a total per mail, in order, the rest listed), how their
//! sizes read, and a safe, unique file name for saving one to disk. The
//! names and types come from strangers: they are data, never paths or
//! commands. Pure.

use std::collections::HashSet;

/// Which files go along and which are only listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Indices of the files attached, in the given order.
    pub attached: Vec<usize>,
    /// Indices of the files that did not fit: listed with their size.
    pub listed: Vec<usize>,
}

/// Takes files in order while their total stays within `limit` bytes; a
/// file that does not fit is listed, and smaller ones after it may still
/// go. A limit of 0 attaches nothing.
pub fn select(sizes: &[u64], limit: u64) -> Selection {
    let mut s = Selection::default();
    let mut total = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        if limit > 0 && total.saturating_add(size) <= limit {
            total += size;
            s.attached.push(i);
        } else {
            s.listed.push(i);
        }
    }
    s
}

/// `120 KB`, `30 MB`: sizes as people read them (1 KB = 1024 bytes), in
/// whole units so that no language's decimal mark is needed.
pub fn size_label(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        format!("{} MB", (bytes + MB / 2) / MB)
    } else {
        format!("{} KB", bytes.div_ceil(1024).max(1))
    }
}

/// Names Windows will not create, whatever the extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// A file name safe to create in a directory: no directories (`../`, `/`,
/// `\`, drive letters), no control characters, no leading dot (hidden or
/// `..`), no reserved device names, at most 200 bytes; never empty.
pub fn safe_name(name: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .replace(':', "_");
    let mut clean: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    clean = clean
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .to_string();
    let stem = clean.split('.').next().unwrap_or_default().to_lowercase();
    if RESERVED.contains(&stem.as_str()) {
        clean = format!("_{clean}");
    }
    if clean.len() > 200 {
        let mut cut = 200;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
    }
    if clean.is_empty() {
        "attachment".into()
    } else {
        clean
    }
}

/// `name`, or `name (2).ext`, `name (3).ext` … whichever `taken` lacks
/// (compared without case: macOS and Windows ignore it).
pub fn unique_name(name: &str, taken: &HashSet<String>) -> String {
    let free = |n: &str| !taken.contains(&n.to_lowercase());
    if free(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|n| free(n))
        .expect("a free name exists")
}

/// A customer's HTML made safe to show inside our notification: no
/// scripts, styles, forms or frames; links open nothing of ours; the
/// images it shows from the mail itself (`cid:`) keep working.
pub fn safe_html(html: &str) -> String {
    let mut schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    schemes.insert("cid");
    ammonia::Builder::default()
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The notification as HTML: our text before and after the customer's
/// words, escaped, and their HTML (made safe) between.
pub fn notification_html(before: &str, customer_html: &str, after: &str) -> String {
    let pre = |t: &str| {
        format!(
            "<pre style=\"white-space:pre-wrap;font-family:inherit\">{}</pre>",
            html_escape(t)
        )
    };
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{}\
         <blockquote style=\"border-left:3px solid #ccc;margin:0;padding-left:1em\">{}</blockquote>{}</body></html>",
        pre(before),
        safe_html(customer_html),
        pre(after)
    )
}

fn html_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_fit_in_order_and_the_rest_are_listed() {
        const MB: u64 = 1024 * 1024;
        let s = select(&[2 * MB, 30 * MB, 5 * MB, 4 * MB], 10 * MB);
        assert_eq!(s.attached, vec![0, 2]);
        assert_eq!(s.listed, vec![1, 3]);
        assert_eq!(select(&[1], 0).listed, vec![0]);
        assert_eq!(size_label(120 * 1024), "120 KB");
        assert_eq!(size_label(30 * MB), "30 MB");
        assert_eq!(size_label(10_000_000), "10 MB");
        assert_eq!(size_label(10), "1 KB");
    }

    #[test]
    fn names_from_strangers_stay_in_their_directory() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_name("C:\\Windows\\win.ini"), "win.ini");
        assert_eq!(safe_name("/abs/path.pdf"), "path.pdf");
        assert_eq!(safe_name(".."), "attachment");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a\u{0}b\nc.txt"), "a_b_c.txt");
        assert_eq!(safe_name("CON.txt"), "_CON.txt");
        assert_eq!(safe_name("   "), "attachment");
        assert_eq!(safe_name("zdjęcie paczki.jpg"), "zdjęcie paczki.jpg");
        assert_eq!(safe_name("invoice.pdf."), "invoice.pdf");
        assert!(safe_name(&"α".repeat(300)).len() <= 200);
    }

    #[test]
    fn a_customers_html_is_shown_without_its_scripts() {
        let h = safe_html(
            "<p onclick=\"x()\">Hi<script>alert(1)</script><img src=\"cid:img1@x\">\
             <iframe src=\"https://evil\"></iframe><a href=\"javascript:x()\">a</a></p>",
        );
        assert!(h.contains("src=\"cid:img1@x\""), "{h}");
        for bad in ["script", "onclick", "iframe", "javascript"] {
            assert!(!h.contains(bad), "{bad} in {h}");
        }
        let n = notification_html("New ticket <#1>", "<b>photo</b>", "-- reply");
        assert!(
            n.contains("New ticket &lt;#1&gt;") && n.contains("<b>photo</b>"),
            "{n}"
        );
    }

    #[test]
    fn collisions_are_numbered() {
        let taken: HashSet<String> = ["photo.jpg", "photo (2).jpg", "readme"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(unique_name("Photo.JPG", &taken), "Photo (3).JPG");
        assert_eq!(unique_name("readme", &taken), "readme (2)");
        assert_eq!(unique_name("new.pdf", &taken), "new.pdf");
    }
}
