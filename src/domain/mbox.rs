//! Splitting an mbox file into messages: a message starts at a `From `
//! line at the start of the file or after an empty line; `>From ` quoting
//! (mboxrd) is undone. A file that does not start with `From ` is one message.

/// Does `data` look like an mbox (starts with a `From ` separator line)?
pub fn is_mbox(data: &[u8]) -> bool {
    data.starts_with(b"From ")
}

/// The messages of an mbox, without their separator lines.
pub fn split(data: &[u8]) -> Vec<Vec<u8>> {
    if !is_mbox(data) {
        return vec![data.to_vec()];
    }
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            if let Some(m) = cur.take() {
                out.push(finish(m));
            }
            cur = Some(Vec::new());
            prev_blank = false;
            continue;
        }
        let body = cur.get_or_insert_with(Vec::new);
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        prev_blank = trimmed.is_empty();
        // mboxrd: ">From " → "From ", ">>From " → ">From ".
        let unquoted = line
            .iter()
            .position(|&b| b != b'>')
            .filter(|&n| n > 0 && line[n..].starts_with(b"From "));
        match unquoted {
            Some(_) => body.extend_from_slice(&line[1..]),
            None => body.extend_from_slice(line),
        }
    }
    if let Some(m) = cur {
        out.push(finish(m));
    }
    out
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
    fn plain_message_is_one() {
        let data = b"Subject: x\n\nFrom the start\n";
        assert_eq!(split(data), vec![data.to_vec()]);
    }

    #[test]
    fn from_inside_a_paragraph_is_not_a_separator() {
        let data = b"From a@b x\nSubject: one\n\nline\nFrom here on\n";
        assert_eq!(split(data).len(), 1);
    }
}
