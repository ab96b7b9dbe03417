//! When to try a delivery again: a growing schedule of waits whose last step
//! repeats, until a row has been queued for too long.

use jiff::{SignedDuration, Timestamp};

/// After `attempts` failed tries of a row queued at `queued_at`, the time of
/// the next try, or None when it is time to give up.
pub fn next_attempt(
    schedule: &[SignedDuration],
    attempts: u32,
    queued_at: Timestamp,
    now: Timestamp,
    give_up_after: SignedDuration,
) -> Option<Timestamp> {
    let step = attempts.saturating_sub(1) as usize;
    let wait = schedule
        .get(step)
        .or(schedule.last())
        .copied()
        .unwrap_or(SignedDuration::from_mins(1));
    let next = now.checked_add(wait).ok()?;
    let deadline = queued_at.checked_add(give_up_after).ok()?;
    (next <= deadline).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_then_repeats_then_gives_up() {
        let s = [
            SignedDuration::from_mins(1),
            SignedDuration::from_mins(5),
            SignedDuration::from_hours(1),
        ];
        let q: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let day = SignedDuration::from_hours(72);
        let at =
            |a, now: Timestamp| next_attempt(&s, a, q, now, day).map(|t| t.duration_since(now));
        assert_eq!(at(1, q), Some(SignedDuration::from_mins(1)));
        assert_eq!(at(2, q), Some(SignedDuration::from_mins(5)));
        assert_eq!(at(3, q), Some(SignedDuration::from_hours(1)));
        assert_eq!(at(9, q), Some(SignedDuration::from_hours(1)));
        let late = q
            .checked_add(SignedDuration::from_hours(71) + SignedDuration::from_mins(30))
            .unwrap();
        assert_eq!(at(40, late), None);
    }
}
