//! Splitting an mbox file into messages: a message starts at a `From `
//! line at the start of the file or after an empty line; `>From ` quoting
//! (mboxrd) is undone. A file that does not start with `From ` is one message.
//! [`Messages`] reads them one at a time from any reader, so a large mbox is
//! never held in memory whole.
//!
//! A single message handed over by an MTA may start with one such line too
//! (the envelope): [`envelope_line`] reads it without splitting anything.

/// The envelope line at the start of one message an MTA delivered
/// (`From sender@example.org Mon Nov 30 10:00:00 2026`): its sender (empty
/// for the null sender, which MTAs write as `MAILER-DAEMON`) and the offset
/// where the message itself begins. `(None, 0)` when there is no such line.
pub fn envelope_line(raw: &[u8]) -> (Option<String>, usize) {
    if !is_mbox(raw) {
        return (None, 0);
    }
    let end = raw
        .iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |p| p + 1);
    let line = String::from_utf8_lossy(&raw[5..end]);
    let sender = line.split_whitespace().next().unwrap_or_default();
    let sender = sender.trim_start_matches('<').trim_end_matches('>');
    let sender = if sender.is_empty() || sender.eq_ignore_ascii_case("mailer-daemon") {
        String::new()
    } else {
        sender.to_lowercase()
    };
    (Some(sender), end)
}

/// Does `data` look like an mbox (starts with a `From ` separator line)?
pub fn is_mbox(data: &[u8]) -> bool {
    data.starts_with(b"From ")
}

/// The messages of an mbox read from `input`, one at a time (a reader that
/// does not start with `From ` yields itself as one message).
pub struct Messages<R> {
    input: R,
    started: bool,
    is_mbox: bool,
    done: bool,
}

impl<R: std::io::BufRead> Messages<R> {
    pub fn new(input: R) -> Self {
        Messages {
            input,
            started: false,
            is_mbox: false,
            done: false,
        }
    }

    fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut l = Vec::new();
        Ok((self.input.read_until(b'\n', &mut l)? > 0).then_some(l))
    }
}

impl<R: std::io::BufRead> Iterator for Messages<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut body = Vec::new();
        let mut prev_blank = true;
        loop {
            let line = match self.line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    if !self.started {
                        // An empty input is one (empty) message.
                        self.started = true;
                        return Some(Ok(Vec::new()));
                    }
                    break;
                }
                Err(e) => return Some(Err(e)),
            };
            if !self.started {
                self.started = true;
                self.is_mbox = is_mbox(&line);
                if self.is_mbox {
                    continue;
                }
            }
            if self.is_mbox && prev_blank && line.starts_with(b"From ") {
                if body.is_empty() {
                    continue;
                }
                // The separator line belongs to no message; the next one starts after it.
                break;
            }
            let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
            let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
            prev_blank = trimmed.is_empty();
            let quoted = self.is_mbox
                && line
                    .iter()
                    .position(|&b| b != b'>')
                    .is_some_and(|n| n > 0 && line[n..].starts_with(b"From "));
            body.extend_from_slice(if quoted { &line[1..] } else { &line });
        }
        if body.is_empty() && self.done {
            return None;
        }
        Some(Ok(if self.is_mbox { finish(body) } else { body }))
    }
}

/// The messages of an mbox held in memory, without their separator lines.
pub fn split(data: &[u8]) -> Vec<Vec<u8>> {
    Messages::new(data)
        .map(|m| m.expect("reading from memory cannot fail"))
        .collect()
}

/// Drops the blank line that separates a message from the next `From ` line.
fn finish(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    } else if m.ends_with(b"\n\n") {
        m.truncate(m.len() - 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_unquotes() {
        let data = b"From a@b Mon Jan 1 00:00:00 2026\nSubject: one\n\nhello\n>From here\n\nFrom c@d Mon Jan 1 00:00:01 2026\nSubject: two\n\nbye\n";
        let m = split(data);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], b"Subject: one\n\nhello\nFrom here\n".to_vec());
        assert_eq!(m[1], b"Subject: two\n\nbye\n".to_vec());
    }

    #[test]
    fn reads_through_a_small_buffer_and_keeps_crlf() {
        let data = b"From a@b Mon Jan 1 00:00:00 2026\r\nSubject: one\r\n\r\nhello\r\n>>From here\r\n\r\nFrom c@d Mon Jan 1 00:00:01 2026\r\nSubject: two\r\n\r\nbye\r\n";
        let reader = std::io::BufReader::with_capacity(3, &data[..]);
        let read: Vec<Vec<u8>> = Messages::new(reader).map(Result::unwrap).collect();
        assert_eq!(
            read,
            vec![
                b"Subject: one\r\n\r\nhello\r\n>From here\r\n".to_vec(),
                b"Subject: two\r\n\r\nbye\r\n".to_vec()
            ]
        );
    }

    #[test]
    fn empty_input_is_one_empty_message() {
        assert_eq!(split(b""), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn plain_message_is_one() {
        let data = b"Subject: x\n\nFrom the start\n";
        assert_eq!(split(data), vec![data.to_vec()]);
    }

    #[test]
    fn the_envelope_line_of_one_message() {
        let raw = b"From jane@Example.org  Mon Nov 30 10:00:00 2026\nFrom: jane@example.org\n\nbody\n\nFrom tomorrow on\n";
        let (sender, start) = envelope_line(raw);
        assert_eq!(sender.as_deref(), Some("jane@example.org"));
        assert_eq!(
            &raw[start..],
            &raw[raw.iter().position(|&b| b == b'\n').unwrap() + 1..]
        );
        let (null, _) = envelope_line(b"From MAILER-DAEMON Mon Nov 30 10:00:00 2026\nX: y\n\n");
        assert_eq!(null.as_deref(), Some(""));
        assert_eq!(envelope_line(b"From: a@b\n\nx"), (None, 0));
    }

    #[test]
    fn from_inside_a_paragraph_is_not_a_separator() {
        let data = b"From a@b x\nSubject: one\n\nline\nFrom here on\n";
        assert_eq!(split(data).len(), 1);
    }
}
