//! Who this process is among the instances sharing a database: a name for
//! its claims on rows and leases (host, pid, a random part), and whether
//! the owner of a claim is a process of this host that has exited.

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// Is process `pid` of host `host` known to have exited? Only processes of
/// this host can be known; a reused pid looks alive, which is the safe side.
pub fn process_is_gone(host: &str, pid: u32) -> bool {
    host == hostname()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Is `owner` (an [`instance_name`]) a process of this host that has exited?
pub fn owner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (_rand, pid, host) = (parts.next(), parts.next(), parts.next());
    match (host, pid.and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) => process_is_gone(h, pid),
        _ => false,
    }
}

/// A name for this process in row claims: host, pid and a random part.
pub fn instance_name() -> String {
    let host = hostname();
    let mut b = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        u32::from_le_bytes(b)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_owners_are_recognised_only_on_this_host() {
        let me = instance_name();
        assert!(!owner_is_dead(&me));
        let host = hostname();
        assert!(
            owner_is_dead(&format!("{host}:4000000000:abcd"))
                || !std::path::Path::new("/proc").exists()
        );
        assert!(!owner_is_dead("some-other-host:1:abcd"));
        assert!(!owner_is_dead("garbage"));
    }
}
