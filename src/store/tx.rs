//! The write transaction of one message, alone or as a member of a group.
//!
//! Alone, [`Tx::commit`] commits. In a [`Group`] (group commit: several
//! fetched messages in one database transaction), each message works
//! inside a savepoint: its `commit` releases the savepoint and hands the
//! transaction back to the group, a failure (or a `Tx` dropped on an error
//! path) rolls back to the savepoint, and only [`Group::commit`] makes the
//! messages durable, together. The code that ingests a message is the same
//! either way.

use super::deferred::Deferred;
use super::{Backend, Result, Store};
use sqlx::{Any, AnyConnection, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

const SAVEPOINT: &str = "postdesk_message";

/// The open transaction; present until committed, rolled back or handed back.
pub(super) struct Held(Option<Transaction<'static, Any>>);

impl Deref for Held {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.0
            .as_deref()
            .expect("a transaction in use after its end")
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.0
            .as_deref_mut()
            .expect("a transaction in use after its end")
    }
}

/// What a member hands back to its group.
struct Returned {
    tx: Transaction<'static, Any>,
    /// Its work is to be kept (released), or undone (rolled back to the savepoint).
    keep: bool,
    /// What it leaves for the group's commit to write, when kept.
    deferred: Deferred,
}

type Slot = Arc<Mutex<Option<Returned>>>;

pub struct Tx {
    pub(super) tx: Held,
    pub(super) backend: Backend,
    /// Set for a member of a group: where the transaction goes back to.
    group: Option<Slot>,
    /// Rows written by `commit` (alone) or by the group's commit (member).
    pub(super) deferred: Deferred,
}

impl Tx {
    pub(super) fn new(tx: Transaction<'static, Any>, backend: Backend) -> Self {
        Tx {
            tx: Held(Some(tx)),
            backend,
            group: None,
            deferred: Deferred::default(),
        }
    }

    /// Whether this is a member of a [`Group`]: its work becomes visible to
    /// other connections only when the group commits.
    pub fn in_group(&self) -> bool {
        self.group.is_some()
    }

    /// Alone: commits. In a group: keeps this message's work for the
    /// group's commit.
    pub async fn commit(mut self) -> Result<()> {
        let deferred = std::mem::take(&mut self.deferred);
        if self.group.is_none() {
            // A failure here leaves `self` whole: dropped, it rolls back.
            deferred.write(&mut self.tx, self.backend).await?;
        }
        let mut t = self.tx.0.take().expect("an open transaction");
        match self.group.take() {
            None => t.commit().await?,
            Some(slot) => {
                let released = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "RELEASE SAVEPOINT {SAVEPOINT}"
                )))
                .execute(&mut *t)
                .await;
                let keep = released.is_ok();
                hand_back(
                    &slot,
                    t,
                    keep,
                    if keep { deferred } else { Deferred::default() },
                );
                released?;
            }
        }
        Ok(())
    }

    /// Undoes everything this transaction (or this member) did.
    pub async fn rollback(mut self) -> Result<()> {
        let t = self.tx.0.take().expect("an open transaction");
        match self.group.take() {
            None => t.rollback().await?,
            Some(slot) => hand_back(&slot, t, false, Deferred::default()),
        }
        Ok(())
    }
}

fn hand_back(slot: &Slot, tx: Transaction<'static, Any>, keep: bool, deferred: Deferred) {
    *slot.lock().expect("group slot") = Some(Returned { tx, keep, deferred });
}

impl Drop for Tx {
    /// A member dropped without `commit` (an error path) goes back to its
    /// group to be rolled back to its savepoint; a lone transaction rolls
    /// back by itself.
    fn drop(&mut self) {
        if let (Some(slot), Some(t)) = (self.group.take(), self.tx.0.take()) {
            hand_back(&slot, t, false, Deferred::default());
        }
    }
}

/// One database transaction shared by several messages.
pub struct Group {
    tx: Option<Transaction<'static, Any>>,
    backend: Backend,
    slot: Slot,
    /// Members kept so far.
    pub kept: usize,
    /// What the kept members left to write at commit.
    deferred: Deferred,
}

impl Store {
    /// A transaction for a group of messages (see [`Group`]).
    pub async fn begin_group(&self) -> Result<Group> {
        Ok(Group {
            tx: Some(self.begin_raw().await?),
            backend: self.backend,
            slot: Arc::new(Mutex::new(None)),
            kept: 0,
            deferred: Deferred::default(),
        })
    }
}

impl Group {
    /// The transaction for the next message, inside a fresh savepoint.
    /// Call [`Group::settle`] once that message is done with it.
    pub async fn member(&mut self) -> Result<Tx> {
        let mut t = self.tx.take().expect("the group's transaction is home");
        sqlx::query(sqlx::AssertSqlSafe(format!("SAVEPOINT {SAVEPOINT}")))
            .execute(&mut *t)
            .await?;
        Ok(Tx {
            tx: Held(Some(t)),
            backend: self.backend,
            group: Some(self.slot.clone()),
            deferred: Deferred::default(),
        })
    }

    /// Takes the transaction back from the member that had it; rolls back
    /// to the savepoint when its work is not to be kept. Returns whether
    /// it was kept.
    pub async fn settle(&mut self) -> Result<bool> {
        let back = self.slot.lock().expect("group slot").take();
        let Some(Returned {
            mut tx,
            keep,
            deferred,
        }) = back
        else {
            return Err(super::StoreError::Corrupt(
                "a group member kept the transaction".into(),
            ));
        };
        if !keep {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ROLLBACK TO SAVEPOINT {SAVEPOINT}"
            )))
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "RELEASE SAVEPOINT {SAVEPOINT}"
            )))
            .execute(&mut *tx)
            .await?;
        } else {
            self.kept += 1;
            self.deferred.absorb(deferred);
        }
        self.tx = Some(tx);
        Ok(keep)
    }

    /// Makes every kept member's work durable at once, writing what they
    /// left for the end in as few statements as it takes.
    pub async fn commit(mut self) -> Result<()> {
        if let Some(mut t) = self.tx.take() {
            self.deferred.write(&mut t, self.backend).await?;
            t.commit().await?;
        }
        Ok(())
    }
}
