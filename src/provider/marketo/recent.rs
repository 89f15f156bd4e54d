//! What a run last learned about each user it touches, so that a check need not read again
//! what was read or written a moment before.
//!
//! Every rate-counted call spends the instance's daily quota, which the plan shares with every
//! integration on the instance. A rename reads each user when it is planned, and Marketo answers
//! most changes with the changed record: reading the user again before or after each step
//! would spend twice what the run needs. The rules that keep this safe:
//!
//! - A memory answers one check and is gone ([`Recent::take`]); the next check reads live.
//! - What Marketo answered to a change ([`Source::Written`]) is as good as a read made after it.
//! - What was read ([`Source::Read`]) may only send a step on to act (a check that says "not
//!   yet"); a step is only ever skipped on a live read or on Marketo's own answer to a change.
//!   Acting on an old read is safe: every act is idempotent or refused, and a refused act is
//!   checked live before the refusal stands.
//! - A memory is trusted for a minute ([`FRESH_FOR`]): steps that follow each other go on, and
//!   whatever comes after a wait for a person is read again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::live::Snapshot;
use super::types::{RolePair, UserRecord};
use crate::ids::UserId;

/// What is known of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Known {
    /// The user's record, its role/workspace pairs among it.
    User(UserRecord),
    /// Only the user's pairs, as a roles change answered them.
    Roles(Vec<RolePair>),
    /// A pending invitation and no user.
    Pending,
    /// No user and no invitation.
    Absent,
}

impl Known {
    /// The user's pairs, where a record or a roles answer told them.
    pub(super) fn roles(&self) -> Option<Vec<RolePair>> {
        match self {
            Known::User(record) => Some(record.roles.clone()),
            Known::Roles(pairs) => Some(pairs.clone()),
            Known::Pending | Known::Absent => None,
        }
    }
}

/// Where a memory came from, which decides what it may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// A read: it may be stale by the time it is used.
    Read,
    /// Marketo's answer to a change this run made.
    Written,
}

/// How long a memory may answer a check.
pub(super) const FRESH_FOR: Duration = Duration::from_mins(1);

/// The memory of one run of one plan.
#[derive(Debug)]
pub(super) struct Recent {
    users: Mutex<BTreeMap<UserId, Memory>>,
    fresh_for: Duration,
}

#[derive(Debug)]
struct Memory {
    known: Known,
    source: Source,
    at: Instant,
}

impl Default for Recent {
    fn default() -> Self {
        Self::fresh_for(FRESH_FOR)
    }
}

impl Recent {
    /// A memory trusted for `fresh_for`.
    pub(super) fn fresh_for(fresh_for: Duration) -> Self {
        Self {
            users: Mutex::default(),
            fresh_for,
        }
    }

    /// Remembers what planning read of each user in `named`: a user the snapshot has not
    /// recorded nor holds as pending was looked up and not found.
    pub(super) fn seed<'a>(
        &self,
        snapshot: &Snapshot,
        named: impl IntoIterator<Item = &'a UserId>,
    ) {
        for user in named {
            let known = match snapshot.users.get(user) {
                Some(record) => Known::User(record.clone()),
                None if snapshot.pending.contains(user) => Known::Pending,
                None => Known::Absent,
            };
            self.learn(user, known, Source::Read);
        }
    }

    /// Remembers `known` of `user`, replacing what was known.
    pub(super) fn learn(&self, user: &UserId, known: Known, source: Source) {
        let memory = Memory {
            known,
            source,
            at: Instant::now(),
        };
        self.lock().insert(user.clone(), memory);
    }

    /// What is known of `user`, which only one check may use; nothing once it has aged.
    pub(super) fn take(&self, user: &UserId) -> Option<(Known, Source)> {
        let memory = self.lock().remove(user)?;
        (memory.at.elapsed() <= self.fresh_for).then_some((memory.known, memory.source))
    }

    /// Forgets `user`: what a failed or unclear change leaves is only known by reading it.
    pub(super) fn forget(&self, user: &UserId) {
        self.lock().remove(user);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<UserId, Memory>> {
        crate::sync::lock(&self.users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    fn record(userid: &str) -> UserRecord {
        UserRecord {
            userid: id(userid),
            email: userid.to_owned(),
            first_name: "A".into(),
            last_name: "B".into(),
            api_only: true,
            roles: vec![],
            expires_at: None,
        }
    }

    #[test]
    fn a_memory_answers_one_check() {
        let recent = Recent::default();
        recent.learn(&id("a@x.test"), Known::Absent, Source::Read);
        assert_eq!(
            recent.take(&id("A@X.test")),
            Some((Known::Absent, Source::Read)),
            "userids fold case"
        );
        assert_eq!(recent.take(&id("a@x.test")), None);
    }

    #[test]
    fn seeding_marks_what_planning_did_not_find_as_absent() {
        let mut snapshot = Snapshot::default();
        snapshot.users.insert(id("u@x.test"), record("u@x.test"));
        snapshot.pending.insert(id("p@x.test"));
        let named = [id("u@x.test"), id("p@x.test"), id("t@x.test")];
        let recent = Recent::default();
        recent.seed(&snapshot, &named);
        assert_eq!(
            recent.take(&id("u@x.test")),
            Some((Known::User(record("u@x.test")), Source::Read))
        );
        assert_eq!(
            recent.take(&id("p@x.test")),
            Some((Known::Pending, Source::Read))
        );
        assert_eq!(
            recent.take(&id("t@x.test")),
            Some((Known::Absent, Source::Read))
        );
    }

    #[test]
    fn an_aged_memory_answers_nothing() {
        let recent = Recent::fresh_for(Duration::ZERO);
        recent.learn(&id("r@x.test"), Known::Absent, Source::Read);
        recent.learn(&id("w@x.test"), Known::Absent, Source::Written);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(recent.take(&id("r@x.test")), None);
        assert_eq!(recent.take(&id("w@x.test")), None);
        let recent = Recent::default();
        recent.learn(&id("w@x.test"), Known::Absent, Source::Written);
        assert_eq!(
            recent.take(&id("w@x.test")),
            Some((Known::Absent, Source::Written))
        );
    }

    #[test]
    fn forgetting_leaves_nothing_to_answer() {
        let recent = Recent::default();
        recent.learn(
            &id("a@x.test"),
            Known::User(record("a@x.test")),
            Source::Written,
        );
        recent.forget(&id("a@x.test"));
        assert_eq!(recent.take(&id("a@x.test")), None);
    }

    #[test]
    fn only_records_and_role_answers_know_roles() {
        assert_eq!(Known::Absent.roles(), None);
        assert_eq!(Known::Pending.roles(), None);
        assert_eq!(Known::Roles(vec![]).roles(), Some(vec![]));
    }
}
