//! postdesk's figures, measured against real Dovecot and Postfix on this
//! machine: ingest throughput and CPU per message (against the raw IMAP
//! ceiling), `postdesk ingest` from an mbox, latency, memory, the SLA
//! scheduler with a million open tickets, and the first sync of a large
//! mailbox. Prints figures; asserts nothing. Run it with `scripts/bench.sh`.
//!
//! Sizes: POSTDESK_BENCH_N (10000), POSTDESK_BENCH_LATENCY_N (200),
//! POSTDESK_BENCH_SLA_TICKETS (1000000), POSTDESK_BENCH_SYNC_N (100000).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use futures::TryStreamExt;
use std::time::{Duration, Instant};

/// The backlog benchmarks acknowledge every message, as they did before the
/// mailbox-wide cap on automatic mail existed (default 1,000 an hour), so
/// their figures stay comparable from run to run.
const NO_MAILBOX_CAP: &str = "[limits]\nauto_per_mailbox_hour = 1000000\n";

fn env_n(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// CPU seconds (user + system) and peak / current RSS in KiB of a process.
fn proc_stats(pid: i32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (cpu / ticks, kb("VmHWM:"), kb("VmRSS:"))
}

/// CPU seconds used by finished children so far.
fn children_cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn children_peak_kb() -> u64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss as u64
}

/// A varied customer mail: plain, long, HTML-only, with an attachment,
/// replies, auto-replies, list mail and non-ASCII subjects.
fn varied(i: usize, tag: &str, support: &str) -> (String, Vec<u8>) {
    let from = format!("c{i}-{tag}@example.test");
    let id = format!("bench{i}-{tag}@client.example");
    let base = |subject: &str, headers: &str, ct: &str, body: &str| {
        format!(
            "From: Customer {i} <{from}>\r\nTo: {support}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
             Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n{headers}MIME-Version: 1.0\r\n{ct}\r\n{body}\r\n"
        )
    };
    let text = "Hello,\r\nthe printer on the second floor shows E42 again.\r\nRegards\r\n";
    let raw = match i % 10 {
        0..=2 => base(
            &format!("Printer {i}"),
            "",
            "Content-Type: text/plain; charset=utf-8\r\n",
            text,
        ),
        3 => base(
            &format!("Long report {i}"),
            "",
            "Content-Type: text/plain; charset=utf-8\r\n",
            &text.repeat(300),
        ),
        4 => base(
            &format!("HTML {i}"),
            "",
            "Content-Type: text/html; charset=utf-8\r\n",
            &format!(
                "<html><body><p>{}</p><p>Second paragraph</p></body></html>",
                text.repeat(20)
            ),
        ),
        5 => {
            let att = data_encoding::BASE64_MIME.encode(&vec![7u8; 100 * 1024]);
            base(
                &format!("With attachment {i}"),
                "",
                "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
                &format!(
                    "--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{att}\r\n--b--"
                ),
            )
        }
        6 => base(
            &format!("Re: Printer {}", i - 6),
            &format!("In-Reply-To: <bench{}-{tag}@client.example>\r\n", i - 6),
            "Content-Type: text/plain; charset=utf-8\r\n",
            text,
        ),
        7 => base(
            &format!("Automatic reply: {i}"),
            "Auto-Submitted: auto-replied\r\n",
            "Content-Type: text/plain\r\n",
            "Out of office.",
        ),
        8 => base(
            &format!("[list] news {i}"),
            "List-Id: <news.example.test>\r\nPrecedence: list\r\n",
            "Content-Type: text/plain\r\n",
            text,
        ),
        _ => base(
            &format!("=?utf-8?q?Dru=C5=BCyna_=CE=B5=CF=81=CF=8E=CF=84=CE=B7=CF=83=CE=B7_{i}?="),
            "",
            "Content-Type: multipart/alternative; boundary=\"a\"\r\n",
            &format!(
                "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>{text}</p>\r\n--a--"
            ),
        ),
    };
    (from, raw.into_bytes())
}

/// Delivers `n` varied messages into `support` over LMTP, on 4 connections.
fn seed(env: &MailEnv, support: &str, tag: &str, n: usize, offset: usize) -> Duration {
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (env, support, tag) = (env.clone(), support.to_string(), tag.to_string());
            std::thread::spawn(move || {
                for i in (offset + t..offset + n).step_by(4) {
                    let (from, raw) = varied(i, &tag, &support);
                    lmtp_send(env.lmtp_port, &from, &support, &raw).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    started.elapsed()
}

/// Seeds `n` messages for a large mailbox: the first over LMTP (Dovecot
/// makes the Maildir), the others written straight into `Maildir/new` —
/// LMTP slows down as a Maildir grows (about 80 msg/s past 60,000), and how
/// the mail got there does not matter to the sync being measured.
fn seed_maildir(env: &MailEnv, user: &str, tag: &str, n: usize) -> Duration {
    use std::os::unix::fs::MetadataExt;
    let started = Instant::now();
    let support = format!("{user}@example.test");
    let (from, raw) = varied(0, tag, &support);
    lmtp_send(env.lmtp_port, &from, &support, &raw).unwrap();
    let new = env
        .root
        .join("mail/example.test")
        .join(user)
        .join("Maildir/new");
    let owner = std::fs::metadata(&new).unwrap();
    for i in 1..n {
        let (_, raw) = varied(i, tag, &support);
        let path = new.join(format!("1795000000.M{i}P{}.bench", std::process::id()));
        std::fs::write(&path, &raw).unwrap();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    started.elapsed()
}

/// A count, or 0 while the database does not exist yet.
fn count(url: &str, sql: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let Ok(mut c) = sqlx::AnyConnection::connect(&format!("{url}?mode=ro")).await else {
            return 0;
        };
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut c)
            .await
            .map_or(0, |r| r.0)
    })
}

/// Waits until `sql` counts `n`, sampling the daemon's peak RSS.
fn wait_count(url: &str, sql: &str, n: i64, pid: i32, limit: Duration) -> (Duration, u64) {
    let started = Instant::now();
    let mut peak = 0;
    loop {
        peak = peak.max(proc_stats(pid).1);
        // A daemon that exited (a configuration it refused) will not get there.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        assert!(alive, "the daemon (pid {pid}) is gone: see its log");
        if count(url, sql) >= n || started.elapsed() > limit {
            return (started.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `postdesk run` on `s` until its `n` backlog messages are stored (at
/// most `limit`): the time it took, the daemon's CPU seconds and its peak
/// RSS in KiB.
fn run_backlog(s: &Setup, n: usize, limit: Duration) -> (Duration, f64, u64, Daemon) {
    let d = s.start();
    let (took, peak) = wait_count(
        &s.database_url,
        "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
        n as i64,
        d.pid(),
        limit,
    );
    let (cpu, hwm, _) = proc_stats(d.pid());
    (took, cpu, hwm.max(peak), d)
}

/// The outbox sending what a backlog queued, measured from when ingest
/// ended until it is empty or `limit` has passed: mails sent, and how long.
fn drain_outbox(s: &Setup, limit: Duration) -> (i64, Duration) {
    let sent = || {
        count(
            &s.database_url,
            "SELECT COUNT(*) FROM outbox WHERE status = 'sent'",
        )
    };
    let queued = count(&s.database_url, "SELECT COUNT(*) FROM outbox");
    let before = sent();
    let started = Instant::now();
    loop {
        let now = sent();
        if now >= queued || started.elapsed() >= limit {
            return (now - before, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A gate in front of Postfix's SMTP port, so a backlog's ingest is
/// measured apart from the sending of its acknowledgements (on 2 cores,
/// Postfix and Dovecot delivering them would take the CPU ingest needs).
/// Closed, it accepts connections and says nothing: the outbox waits for a
/// greeting, times out and retries later (one attempt every few seconds).
/// Open, it relays each new connection to Postfix byte for byte.
struct Gate {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Gate {
    fn closed(postfix: u16) -> Gate {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_open = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !is_open.load(Ordering::SeqCst) {
                    // Held silent; the outbox gives up on it by itself.
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(60));
                        drop(client);
                    });
                    continue;
                }
                std::thread::spawn(move || relay(client, postfix));
            }
        });
        Gate { port, open }
    }

    fn open(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies bytes both ways between `client` and Postfix until both close.
fn relay(client: std::net::TcpStream, postfix: u16) {
    let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", postfix)) else {
        return;
    };
    client.set_nodelay(true).ok();
    server.set_nodelay(true).ok();
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut s_out);
        let _ = s_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_in, mut c_out) = (server, client);
    let _ = std::io::copy(&mut s_in, &mut c_out);
    let _ = c_out.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// The raw ceiling: `UID FETCH 1:* BODY.PEEK[]` of the whole folder.
fn ceiling(env: &MailEnv, user: &str) -> (Duration, usize, u64) {
    let cfg = postdesk::config::ServerConfig {
        host: "127.0.0.1".into(),
        port: env.imap_port,
        security: postdesk::config::Security::None,
        username: Some(user.to_string()),
        password: Some(postdesk::config::Secret::new("secret")),
        oauth: None,
        ca_file: None,
        timeout: jiff::SignedDuration::from_secs(600),
    };
    rt().block_on(async {
        let mut s =
            postdesk::imap::connect(&cfg, &postdesk::oauth::Login::Password("secret".into()))
                .await
                .unwrap();
        s.select("INBOX").await.unwrap();
        let started = Instant::now();
        let mut n = 0;
        let mut bytes = 0u64;
        {
            let mut stream = s.uid_fetch("1:*", "(UID BODY.PEEK[])").await.unwrap();
            while let Some(f) = stream.try_next().await.unwrap() {
                n += 1;
                bytes += f.body().map_or(0, |b| b.len() as u64);
            }
        }
        let took = started.elapsed();
        let _ = s.logout().await;
        (took, n, bytes)
    })
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    postdesk::tls::install_crypto_provider();
    let n = env_n("POSTDESK_BENCH_N", 10_000);
    let latency_n = env_n("POSTDESK_BENCH_LATENCY_N", 200);
    let sla_tickets = env_n("POSTDESK_BENCH_SLA_TICKETS", 1_000_000);
    let sync_n = env_n("POSTDESK_BENCH_SYNC_N", 100_000);
    println!(
        "postdesk benchmarks: {} cores, release build",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );

    // 1. Idle memory.
    let idle = Setup::with(
        "idle",
        Options {
            after_ingest: "seen",
            ..Options::default()
        },
    );
    let d = idle.start();
    idle.wait_for("IMAP connected", Duration::from_secs(30), || {
        d.log().contains("IMAP connected").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let (_, _, idle_rss) = proc_stats(d.pid());
    println!("memory: idle daemon RSS {} MiB", idle_rss / 1024);
    drop(d);

    if n > 0 {
        // 2. Backlog ingest against the raw IMAP ceiling.
        let gate = Gate::closed(MailEnv::get().smtp_port);
        let s = Setup::with(
            "backlog",
            Options {
                after_ingest: "seen",
                extra: NO_MAILBOX_CAP.into(),
                smtp_port: Some(gate.port),
                ..Options::default()
            },
        );
        let seeded = seed(&s.env, &s.support_address(), &s.tag, n, 0);
        println!(
            "seeded {n} varied messages over LMTP in {seeded:.1?} ({:.0} msg/s)",
            n as f64 / seeded.as_secs_f64()
        );
        let (ceil, fetched, bytes) = ceiling(&s.env, &s.support_address());
        println!(
            "ceiling: UID FETCH 1:* BODY.PEEK[] of {fetched} messages ({} MiB) in {ceil:.2?} = {:.0} msg/s",
            bytes / 1048576,
            fetched as f64 / ceil.as_secs_f64()
        );
        let (took, cpu, peak, d) = run_backlog(&s, n, Duration::from_secs(3600));
        let acks = count(
            &s.database_url,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'ack'",
        );
        // Ingest done: now the acknowledgements may go.
        gate.open();
        let (sent, sending) = drain_outbox(&s, Duration::from_secs(60));
        drop(d);
        println!(
            "postdesk run, {n}-message backlog on SQLite: {took:.1?} = {:.0} msg/s ({:.0}% of the ceiling); CPU {cpu:.1} s = {:.2} ms per message; \
             {acks} acknowledgements queued, held until ingest ended; peak RSS {} MiB",
            n as f64 / took.as_secs_f64(),
            100.0 * ceil.as_secs_f64() / took.as_secs_f64(),
            cpu * 1000.0 / n as f64,
            peak / 1024
        );
        println!(
            "outbox after the backlog: {sent} mails sent over SMTP (STARTTLS, one connection) in {sending:.1?} = {:.0} mails/s \
             (from the gate's opening, a retry's wait of at most 2 s included)",
            sent as f64 / sending.as_secs_f64()
        );

        // 2b. The same backlog (the same mailbox, read again from UID 1)
        // into PostgreSQL.
        let pg_gate = Gate::closed(MailEnv::get().smtp_port);
        let pg = Setup::with_tag(
            s.tag.clone(),
            Options {
                after_ingest: "seen",
                extra: NO_MAILBOX_CAP.into(),
                db: Db::Postgres,
                smtp_port: Some(pg_gate.port),
                ..Options::default()
            },
        );
        let (took, cpu, peak, d) = run_backlog(&pg, n, Duration::from_secs(3600));
        drop(d);
        println!(
            "postdesk run, {n}-message backlog on PostgreSQL: {took:.1?} = {:.0} msg/s; CPU {cpu:.1} s = {:.2} ms per message; peak RSS {} MiB",
            n as f64 / took.as_secs_f64(),
            cpu * 1000.0 / n as f64,
            peak / 1024
        );

        // 3. postdesk ingest from an mbox file.
        let c = common::cli::Cli::new(Db::Sqlite);
        let mbox_path = c.dir.path().join("backlog.mbox");
        {
            use std::io::Write;
            let mut f = std::io::BufWriter::new(std::fs::File::create(&mbox_path).unwrap());
            for i in 0..n {
                let (_, raw) = varied(i, "mbox", "support@example.com");
                f.write_all(b"From bench@example.test Thu Nov 26 10:00:00 2026\n")
                    .unwrap();
                for line in raw.split(|&b| b == b'\n') {
                    if line.starts_with(b"From ") {
                        f.write_all(b">").unwrap();
                    }
                    f.write_all(line).unwrap();
                    f.write_all(b"\n").unwrap();
                }
                f.write_all(b"\n").unwrap();
            }
        }
        let cpu0 = children_cpu();
        let started = Instant::now();
        let out = std::process::Command::new(BIN)
            .arg("--config")
            .arg(&c.config)
            .args(["ingest", "--mailbox", "support"])
            .arg(&mbox_path)
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cpu = children_cpu() - cpu0;
        println!(
            "postdesk ingest of a {n}-message mbox ({} MiB): {took:.1?} = {:.0} msg/s; CPU {cpu:.1} s = {:.2} ms per message; peak RSS {} MiB",
            std::fs::metadata(&mbox_path).unwrap().len() / 1048576,
            n as f64 / took.as_secs_f64(),
            cpu * 1000.0 / n as f64,
            children_peak_kb() / 1024
        );
        if std::env::var_os("POSTDESK_BENCH_KEEP").is_some() {
            // The mbox and its configuration stay, to profile `ingest` on them.
            println!("kept for profiling: {}", c.dir.path().display());
            std::mem::forget(c);
        }
    }

    if latency_n > 0 {
        // 4. Latency, one message at a time, IDLE on.
        let l = Setup::with(
            "latency",
            Options {
                poll_interval: "1h",
                ..Options::default()
            },
        );
        let d = l.start();
        l.wait_for("IMAP connected", Duration::from_secs(30), || {
            d.log().contains("IMAP connected").then_some(())
        });
        std::thread::sleep(Duration::from_secs(1));
        let rt = rt();
        let mut to_ticket = Vec::new();
        let mut to_ack = Vec::new();
        rt.block_on(async {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut db = sqlx::AnyConnection::connect(&l.database_url).await.unwrap();
            for i in 0..latency_n {
                let user = format!("lat{i}-{}", l.tag);
                let c = format!("{user}@example.test");
                let id = format!("lat{i}-{}@client.example", l.tag);
                l.env.send(
                    &c,
                    &[&l.support_address()],
                    &mail(&c, &l.support_address(), "Latency", &id, "", "x"),
                );
                let sent = Instant::now();
                loop {
                    let (k,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM messages WHERE message_id = '{id}'"
                    )))
                    .fetch_one(&mut db)
                    .await
                    .unwrap();
                    if k > 0 {
                        to_ticket.push(sent.elapsed());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let dir = l
                    .env
                    .root
                    .join("mail/example.test")
                    .join(&user)
                    .join("Maildir/new");
                loop {
                    if std::fs::read_dir(&dir)
                        .map(|mut r| r.next().is_some())
                        .unwrap_or(false)
                    {
                        to_ack.push(sent.elapsed());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });
        for (what, v) in [
            ("ticket committed", &to_ticket),
            ("acknowledgement in the customer's inbox", &to_ack),
        ] {
            println!(
                "latency over {latency_n} messages, SMTP accept -> {what}: p50 {:.0?} p95 {:.0?} p99 {:.0?}",
                pct(v.clone(), 0.5),
                pct(v.clone(), 0.95),
                pct(v.clone(), 0.99)
            );
        }

        // 5. One 25 MB message with attachments (on the latency run's daemon).
        let before = proc_stats(d.pid()).1;
        let big_att = data_encoding::BASE64_MIME.encode(&vec![42u8; 25 * 1024 * 1024]);
        let c = l.addr("big");
        let raw = format!(
            "From: {c}\r\nTo: {}\r\nSubject: Big one\r\nMessage-ID: <big-{}@client.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --b\r\nContent-Type: application/octet-stream; name=\"dump.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big_att}\r\n--b--\r\n",
            l.support_address(),
            l.tag
        );
        lmtp_send(l.env.lmtp_port, &c, &l.support_address(), raw.as_bytes()).unwrap();
        let (took, peak) = wait_count(
            &l.database_url,
            &format!(
                "SELECT COUNT(*) FROM messages WHERE message_id = 'big-{}@client.example'",
                l.tag
            ),
            1,
            d.pid(),
            Duration::from_secs(600),
        );
        println!(
            "memory: a {} MiB message ingested in {took:.1?}; peak RSS {} MiB before, {} MiB after",
            raw.len() / 1048576,
            before / 1024,
            peak.max(proc_stats(d.pid()).1) / 1024
        );
        drop(d);
    }

    // 6. The SLA scheduler with a million open tickets.
    if sla_tickets > 0 {
        sla_at_scale(sla_tickets);
    }

    // 7. First sync of a large mailbox.
    if sync_n > 0 {
        let f = Setup::with(
            "firstsync",
            Options {
                after_ingest: "seen",
                retry: r#"["1h"]"#,
                extra: NO_MAILBOX_CAP.into(),
                ..Options::default()
            },
        );
        let seeded = seed_maildir(&f.env, &f.support, &f.tag, sync_n);
        println!("seeded {sync_n} messages into the Maildir in {seeded:.0?}");
        // Dovecot indexes them at the first SELECT: let that happen before
        // the clock starts, and measure the ceiling for this size too.
        let (ceil, fetched, bytes) = ceiling(&f.env, &f.support_address());
        println!(
            "ceiling: UID FETCH 1:* BODY.PEEK[] of {fetched} messages ({} MiB) in {ceil:.2?} = {:.0} msg/s",
            bytes / 1048576,
            fetched as f64 / ceil.as_secs_f64()
        );
        let (took, cpu, peak, d) = run_backlog(&f, sync_n, Duration::from_secs(7200));
        drop(d);
        println!(
            "first sync of {sync_n} messages in INBOX: {took:.0?} = {:.0} msg/s; CPU {cpu:.0} s; peak RSS {} MiB",
            sync_n as f64 / took.as_secs_f64(),
            peak / 1024
        );
    }
}

/// A million open tickets with running clocks, 10,000 of their notices due:
/// how long the scheduler takes to find the next one and to send them.
fn sla_at_scale(tickets: usize) {
    use postdesk::clock::ManualClock;
    let due_now = 10_000.min(tickets);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sla.db").display());
    let config_text = format!(
        "[database]\nurl = \"{url}\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
         [limits]\nauto_per_recipient = 100000\nauto_per_ticket = 100000\nauto_per_mailbox_hour = 100000000\n\
         [[mailbox]]\nname = \"support\"\naddress = \"support@example.com\"\nagents = [\"alice@example.com\"]\n\
         [[agent]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n"
    );
    let config = std::sync::Arc::new(
        postdesk::config::Config::parse(&config_text, &dir.path().join("p.toml")).unwrap(),
    );
    let rt = rt();
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let store = postdesk::store::Store::connect(&config.database).await.unwrap();
        store.migrate().await.unwrap();
        let key = store.token_key().await.unwrap();
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let started = Instant::now();
        let now: i64 = 1_795_000_000_000;
        db.execute("BEGIN").await.unwrap();
        for chunk in (1..=tickets as i64).collect::<Vec<_>>().chunks(500) {
            let mut t = String::from("INSERT INTO tickets (number, mailbox, subject, normalized_subject, status, priority, customer_email, language, sla_policy, created_at, updated_at) VALUES ");
            let mut c = String::from("INSERT INTO sla_clocks (id, ticket, target, cycle, policy, budget_ms, consumed_ms, started_at, running_since, due_at, state) VALUES ");
            let mut s = String::from("INSERT INTO sla_schedule (clock, notice, level, due_at) VALUES ");
            for (k, n) in chunk.iter().enumerate() {
                let sep = if k == 0 { "" } else { "," };
                // The first `due_now` tickets are late; the others due over the next weeks.
                let due = if (*n as usize) <= due_now { now - 60_000 } else { now + n * 1000 };
                t.push_str(&format!("{sep}({n}, 'support', 'Ticket {n}', 'ticket {n}', 'open', 'normal', 'c{n}@example.test', 'en', 'default', {now}, {now})"));
                c.push_str(&format!("{sep}({n}, {n}, 'first_response', 1, 'default', 86400000, 0, {now}, {now}, {due}, 'running')"));
                s.push_str(&format!("{sep}({n}, 'escalation', 1, {due})"));
            }
            for q in [t, c, s] {
                db.execute(sqlx::AssertSqlSafe(q)).await.unwrap();
            }
        }
        db.execute("COMMIT").await.unwrap();
        println!("SLA: {tickets} open tickets with running clocks written in {:.0?}", started.elapsed());
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as("EXPLAIN QUERY PLAN SELECT clock, notice, level, due_at FROM sla_schedule WHERE due_at <= 1 ORDER BY due_at LIMIT 100")
            .fetch_all(&mut db)
            .await
            .unwrap();
        let t = Instant::now();
        let next = store.next_notice_due().await.unwrap();
        let find = t.elapsed();
        let t = Instant::now();
        let due = store.due_notices(jiff::Timestamp::from_millisecond(now).unwrap(), 100).await.unwrap();
        let batch = t.elapsed();
        println!(
            "SLA: next due notice found in {find:.1?} ({next:?}); a batch of {} due notices read in {batch:.1?}; plan: {}",
            due.len(),
            plan.iter().map(|p| p.3.clone()).collect::<Vec<_>>().join("; ")
        );
        // Policy "default" has no escalation levels configured: give it one for the run.
        let mut cfg = (*config).clone();
        cfg.sla.insert(
            "default".into(),
            postdesk::config::SlaPolicy {
                escalation: vec![postdesk::config::EscalationLevel {
                    after: postdesk::config::EscalateAfter::Breach,
                    notify: vec![postdesk::domain::sla::NotifyTarget::Agents],
                    set_priority: None,
                    template: None,
                }],
                ..Default::default()
            },
        );
        let pipeline = std::sync::Arc::new(postdesk::ingest::Pipeline::new(
            std::sync::Arc::new(cfg),
            store.clone(),
            std::sync::Arc::new(postdesk::templates::Templates::load(None).unwrap()),
            key,
            std::sync::Arc::new(ManualClock::new(jiff::Timestamp::from_millisecond(now).unwrap())),
            std::sync::Arc::new(tokio::sync::Notify::new()),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        ));
        let scheduler = postdesk::scheduler::Scheduler {
            pipeline,
            wake: std::sync::Arc::new(tokio::sync::Notify::new()),
        };
        let t = Instant::now();
        scheduler.send_due(&tokio_util::sync::CancellationToken::new()).await.unwrap();
        let took = t.elapsed();
        let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'escalation'")
            .fetch_one(&mut db)
            .await
            .unwrap();
        println!(
            "SLA: {due_now} due escalations processed in {took:.1?} ({:.0} notices/s), {queued} notice mails queued; the other {} clocks untouched",
            due_now as f64 / took.as_secs_f64(),
            tickets - due_now
        );
    });
}
