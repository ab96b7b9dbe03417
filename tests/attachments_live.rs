//! The customer's files reach the agents, against real Dovecot and
//! Postfix: a photo and a PDF ride along with the notification (bytes
//! identical), an image the customer's HTML shows keeps showing in the
//! notification's HTML, a 30 MB file is listed instead of attached,
//! `#attachments` brings a ticket's files back, and the admin gets the
//! original message and saves a ticket's files without a stranger's file
//! name reaching outside the chosen directory.

#[macro_use]
mod common;

use common::team::*;
use common::*;
use postdesk::domain::parse::files_of;

on_both_databases!(
    customers_files_reach_agents_and_admins,
    a_file_too_large_is_listed_and_attachments_brings_the_rest
);

/// A proof of an agent's mail a trusted server added (see the setup's [auth]).
const DKIM_PASS: &str =
    "Authentication-Results: mx.postdesk.test; dkim=pass header.d=example.test\r\n";

/// Bytes that no encoding step could leave unchanged by accident.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// A part: its headers, then its bytes in base64.
fn part(headers: &str, body: &[u8]) -> String {
    format!(
        "{headers}Content-Transfer-Encoding: base64\r\n\r\n{}",
        data_encoding::BASE64_MIME.encode(body)
    )
}

/// The customer's mail: text and HTML (showing `cid:img1@client`), the
/// inline image, and the files as attachments.
fn customer_mail(s: &Setup, subject: &str, id: &str, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let customer = s.addr("customer");
    let image = bytes(7, 2048);
    let mut out = format!(
        "From: Jane Doe <{customer}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n--mixed\r\n\
         Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThe parcel arrived damaged, photo attached.\r\n--alt\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p>The parcel arrived <b>damaged</b>:</p>\
         <img src=\"cid:img1@client\"><script>alert(1)</script>\r\n--alt--\r\n--rel\r\n{}\r\n--rel--\r\n",
        s.support_address(),
        part(
            "Content-Type: image/png\r\nContent-ID: <img1@client>\r\nContent-Disposition: inline; filename=\"box.png\"\r\n",
            &image
        )
    );
    for (name, ctype, body) in files {
        out.push_str(&format!(
            "--mixed\r\n{}\r\n",
            part(
                &format!("Content-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"),
                body
            )
        ));
    }
    out.push_str("--mixed--\r\n");
    out.into_bytes()
}

fn customers_files_reach_agents_and_admins(db: Db) {
    let s = setup("files", db);
    let _d = s.start();
    let photo = bytes(1, 120 * 1024);
    let pdf = bytes(2, 50 * 1024);
    let evil = b"not a password file".to_vec();
    let id = format!("files-{}@client.example", s.tag);
    let raw = customer_mail(
        &s,
        "Damaged parcel",
        &id,
        &[
            ("zdjęcie paczki.jpg", "image/jpeg", &photo),
            ("invoice.pdf", "application/pdf", &pdf),
            ("../../evil.txt", "text/plain", &evil),
        ],
    );
    s.env
        .send(&s.addr("customer"), &[&s.support_address()], &raw);
    let note = find(&s, "alice", "Damaged parcel");
    let carried = files_of(&note);
    let find_file = |name: &str| {
        carried
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} not attached: {:?}",
                    carried.iter().map(|f| &f.name).collect::<Vec<_>>()
                )
            })
            .bytes
            .clone()
    };
    assert_eq!(
        find_file("zdjęcie paczki.jpg"),
        photo,
        "the photo, byte for byte"
    );
    assert_eq!(find_file("invoice.pdf"), pdf);
    // The image the customer's HTML shows keeps showing: related to the
    // HTML by its Content-ID; their script does not come along.
    let text = String::from_utf8_lossy(&note);
    assert!(text.contains("multipart/related"), "{text}");
    let inline = carried
        .iter()
        .find(|f| f.content_id.as_deref() == Some("img1@client"));
    assert_eq!(inline.map(|f| f.bytes.clone()), Some(bytes(7, 2048)));
    let html = postdesk::domain::parse::html_of(&note).expect("an HTML alternative");
    assert!(
        html.contains("cid:img1@client") && html.contains("<b>damaged</b>"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    // A non-ASCII name goes out encoded (RFC 2231), and reads back whole.
    assert!(text.contains("filename*"), "{text}");

    // The admin: the original message, and the files saved safely.
    let out = s.run(&["messages", "show", &format!("<{id}>"), "--raw"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.ends_with(&raw[raw.len() - 200..]),
        "the original bytes"
    );
    assert_eq!(files_of(&out.stdout).len(), 4);
    let dir = s.dir.path().join("saved");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("invoice.pdf"), b"someone else's").unwrap();
    let n = s.tickets()[0]["number"].as_i64().unwrap().to_string();
    let out = s.run(&[
        "tickets",
        "show",
        &n,
        "--attachments",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(read("zdjęcie paczki.jpg"), photo);
    assert_eq!(
        read("invoice (2).pdf"),
        pdf,
        "a new name, the old file kept"
    );
    assert_eq!(read("invoice.pdf"), b"someone else's");
    assert_eq!(read("evil.txt"), evil, "saved inside the directory");
    assert_eq!(read("box.png"), bytes(7, 2048));
    assert!(
        !s.dir.path().join("evil.txt").exists() && !dir.parent().unwrap().join("evil.txt").exists()
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.lines().count(), 4, "{listed}");
}

fn a_file_too_large_is_listed_and_attachments_brings_the_rest(db: Db) {
    let s = setup("bigfile", db);
    let _d = s.start();
    let video = bytes(3, 30 * 1024 * 1024);
    let photo = bytes(4, 100 * 1024);
    let id = format!("big-{}@client.example", s.tag);
    let raw = customer_mail(
        &s,
        "Unboxing video",
        &id,
        &[
            ("unboxing.mp4", "video/mp4", &video),
            ("label.jpg", "image/jpeg", &photo),
        ],
    );
    s.env
        .send(&s.addr("customer"), &[&s.support_address()], &raw);
    let note = find(&s, "alice", "Unboxing video");
    let names: Vec<String> = files_of(&note).into_iter().map(|f| f.name).collect();
    assert!(names.contains(&"label.jpg".to_string()), "{names:?}");
    assert!(
        !names.contains(&"unboxing.mp4".to_string()),
        "30 MB is not attached"
    );
    let body = readable(&note);
    assert!(
        body.contains("Not attached") && body.contains("unboxing.mp4 (video/mp4, 30 MB)"),
        "{body}"
    );
    assert!(body.contains("--attachments DIR"), "{body}");

    // `#attachments`: the ticket's files in the receipt, the large one listed.
    alice_replies(&s, &note, "#attachments", DKIM_PASS);
    let receipt = find_with(&s, "alice", "Done", "newest first");
    let got = files_of(&receipt);
    assert_eq!(
        got.iter()
            .find(|f| f.name == "label.jpg")
            .map(|f| f.bytes.clone()),
        Some(photo)
    );
    assert!(got.iter().any(|f| f.name == "box.png"));
    assert!(!got.iter().any(|f| f.name == "unboxing.mp4"));
    let text = readable(&receipt);
    assert!(text.contains("unboxing.mp4 (video/mp4, 30 MB)"), "{text}");
    // Nothing went to the customer: `#attachments` alone answers nobody.
    assert!(
        mails_where(&s, "customer", |m| m.contains("Unboxing video")
            && !m.contains("Auto-Submitted"))
        .is_empty()
    );
}
