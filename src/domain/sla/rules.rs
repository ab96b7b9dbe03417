//! `[[rule]]`s: which SLA policy (and priority) a new ticket gets, from
//! its customer, subject and mailbox.

use super::*;

/// `[[rule]]`: which policy (and priority) a new ticket gets. Every
/// condition given must hold; lists match when any entry does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub mailbox: Option<String>,
    /// Addresses (`ceo@big.example`) or domains (`big.example`, subdomains too), lower-cased.
    pub customers: Vec<String>,
    pub priority: Option<Priority>,
    /// Words of which one must appear in the subject, [folded](crate::domain::fold)
    /// (case and accents do not count).
    pub subject_words: Vec<String>,
    pub sla: String,
    pub set_priority: Option<Priority>,
}

impl PolicyRule {
    pub fn matches(
        &self,
        mailbox: &str,
        customer: &str,
        subject: &str,
        priority: Priority,
    ) -> bool {
        let customer = customer.to_lowercase();
        let domain = customer.rsplit_once('@').map_or("", |(_, d)| d);
        let subject = crate::domain::fold::fold(subject);
        self.mailbox.as_deref().is_none_or(|m| m == mailbox)
            && self.priority.is_none_or(|p| p == priority)
            && (self.customers.is_empty()
                || self.customers.iter().any(|c| {
                    if c.contains('@') {
                        *c == customer
                    } else {
                        domain == c || domain.ends_with(&format!(".{c}"))
                    }
                }))
            && (self.subject_words.is_empty()
                || self
                    .subject_words
                    .iter()
                    .any(|w| subject.contains(w.as_str())))
    }
}

/// The policy and priority of a new ticket: the first matching rule's, else
/// the mailbox's policy at normal priority. Returns the rule's index too.
pub fn choose_policy<'a>(
    rules: &'a [PolicyRule],
    mailbox: &str,
    mailbox_sla: &'a str,
    customer: &str,
    subject: &str,
) -> (&'a str, Priority, Option<usize>) {
    for (i, r) in rules.iter().enumerate() {
        if r.matches(mailbox, customer, subject, Priority::Normal) {
            return (&r.sla, r.set_priority.unwrap_or(Priority::Normal), Some(i));
        }
    }
    (mailbox_sla, Priority::Normal, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_words_match_without_case_or_accents() {
        let rules = vec![PolicyRule {
            subject_words: ["Επείγον", "Pilne"].map(crate::domain::fold::fold).to_vec(),
            sla: "urgent".into(),
            ..Default::default()
        }];
        for subject in [
            "ΕΠΕΙΓΟΝ: ο εκτυπωτής",
            "Re: Επείγον",
            "επειγον",
            "PILNE - drukarka",
            "Bardzo pilne!",
        ] {
            assert_eq!(
                choose_policy(&rules, "support", "std", "a@b.example", subject).0,
                "urgent",
                "{subject}"
            );
        }
        assert_eq!(
            choose_policy(&rules, "support", "std", "a@b.example", "Ερώτηση").0,
            "std"
        );
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let rules = vec![
            PolicyRule {
                customers: vec!["big.example".into()],
                subject_words: vec!["outage".into()],
                sla: "urgent".into(),
                set_priority: Some(Priority::Urgent),
                ..Default::default()
            },
            PolicyRule {
                customers: vec!["big.example".into(), "vip@small.example".into()],
                sla: "gold".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            choose_policy(&rules, "support", "std", "ann@big.example", "OUTAGE in DC2").0,
            "urgent"
        );
        assert_eq!(
            choose_policy(&rules, "support", "std", "ann@eu.big.example", "question").0,
            "gold"
        );
        assert_eq!(
            choose_policy(&rules, "support", "std", "vip@small.example", "hi").0,
            "gold"
        );
        assert_eq!(
            choose_policy(&rules, "support", "std", "joe@small.example", "outage"),
            ("std", Priority::Normal, None)
        );
    }
}
