//! Compaction: VACUUM, then a checkpoint that empties the WAL, kept out of the way of writes.
//!
//! `secure_delete` zeroes a record's old bytes when it is changed or deleted, but when SQLite
//! rebalances a page it can leave stale copies of moved records in the page's free space.
//! VACUUM rewrites every page from the live records; the checkpoint then moves the rewritten
//! pages into the file and empties the WAL. Both hold the write lock for as long as they take
//! (0.4 s for 80,000 devices, growing with the file), and every write waits behind them: a
//! first delivery in a boot storm, or one that waits longer than the writer's `busy_timeout`
//! and fails. So a due compaction waits for a quiet writer (no commit for
//! [`CompactionPacing::quiet`]), at most [`CompactionPacing::wait_for_quiet`], and a VACUUM
//! that a write starts waiting for gives way to it (interrupted, rolled back, nothing changed).
//! Either postpones the compaction to the next call; one postponed for
//! [`CompactionPacing::postpone_at_most`] runs whatever the writer does, so stale copies of a
//! purged secret are gone within that bound plus one period.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::ErrorCode;
use sipprov_credentials::StoreError;

use crate::connection::connect;
use crate::errors::backend;
use crate::writer::{Activity, Writer};

/// When a compaction may run, and when it gives way to writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPacing {
    /// How long the writer must have had nothing to do before a compaction starts.
    pub quiet: Duration,
    /// How long a due compaction waits for such a moment before it is postponed.
    pub wait_for_quiet: Duration,
    /// How long a write may wait for a running VACUUM before the VACUUM gives way.
    pub yield_after: Duration,
    /// How long a compaction may be postponed; after that it runs whatever the writer does.
    pub postpone_at_most: Duration,
}

impl Default for CompactionPacing {
    fn default() -> Self {
        Self {
            // A boot storm commits every few milliseconds; a quiet fleet's last-seen facts
            // are written every 5 s, in a few milliseconds.
            quiet: Duration::from_millis(250),
            wait_for_quiet: Duration::from_secs(10),
            // A commit's own lock wait is microseconds; a phone's first delivery should not
            // wait for much more than a commit interval.
            yield_after: Duration::from_millis(20),
            postpone_at_most: Duration::from_secs(3600),
        }
    }
}

/// What a VACUUM did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vacuum {
    Done,
    /// It gave way to a write, and changed nothing.
    GaveWay,
}

/// The store's compactions: when the last one was postponed, and its pacing.
#[derive(Debug)]
pub(crate) struct Compaction {
    pacing: CompactionPacing,
    /// When the compaction due now was first postponed.
    postponed_since: Mutex<Option<Instant>>,
}

/// How often, in SQLite virtual-machine steps, a VACUUM looks whether a write waits for it
/// (about a millisecond's work).
const STEPS_BETWEEN_LOOKS: i32 = 10_000;

/// How often a due compaction looks whether the writer has become quiet.
const QUIET_LOOK: Duration = Duration::from_millis(25);

impl Compaction {
    pub(crate) fn new(pacing: CompactionPacing) -> Self {
        Self { pacing, postponed_since: Mutex::new(None) }
    }

    /// Compacts the database at `path` if a write that may have taken a secret out of a record
    /// ran since the last compaction, when `writer` lets it (see the module's documentation).
    pub(crate) fn run(&self, writer: &Writer, path: &Path) -> Result<(), StoreError> {
        if !writer.compaction_due() {
            return Ok(());
        }
        let activity = writer.activity();
        let overdue = self.postponed_since().is_some_and(|since| since.elapsed() >= self.pacing.postpone_at_most);
        let vacuumed = if overdue || self.wait_for_quiet(&activity) {
            // Taken as the VACUUM starts: it covers every write before, none after.
            writer.clear_compaction_due();
            let yield_after = self.pacing.yield_after;
            let vacuumed =
                vacuum(path, move || !overdue && activity.waiting_for_lock().is_some_and(|wait| wait >= yield_after));
            if !matches!(vacuumed, Ok(Vacuum::Done)) {
                writer.compaction_still_due();
            }
            vacuumed
        } else {
            Ok(Vacuum::GaveWay)
        };
        match vacuumed? {
            Vacuum::Done => *self.postponed_since() = None,
            Vacuum::GaveWay => {
                let since = *self.postponed_since().get_or_insert_with(Instant::now);
                tracing::info!(
                    postponed_for_s = since.elapsed().as_secs(),
                    "store compaction postponed: writes were waiting"
                );
            }
        }
        Ok(())
    }

    /// Whether the writer became quiet within [`CompactionPacing::wait_for_quiet`].
    fn wait_for_quiet(&self, activity: &Activity) -> bool {
        let deadline = Instant::now() + self.pacing.wait_for_quiet;
        loop {
            if activity.is_quiet(self.pacing.quiet) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(QUIET_LOOK);
        }
    }

    fn postponed_since(&self) -> MutexGuard<'_, Option<Instant>> {
        // A time only: a panic elsewhere cannot leave it half-written.
        self.postponed_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// VACUUM on a connection of its own (it cannot run inside the writer's transactions), giving
/// way as soon as `give_way` says so; then, if it finished, a checkpoint that moves the
/// rewritten pages into the file and truncates the WAL.
fn vacuum(path: &Path, give_way: impl FnMut() -> bool + Send + 'static) -> Result<Vacuum, StoreError> {
    let mut conn = connect(path).map_err(backend)?;
    conn.progress_handler(STEPS_BETWEEN_LOOKS, Some(give_way)).map_err(backend)?;
    match conn.execute_batch("VACUUM") {
        Ok(()) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::OperationInterrupted => {
            return Ok(Vacuum::GaveWay);
        }
        Err(e) => return Err(backend(e)),
    }
    conn.progress_handler(0, None::<fn() -> bool>).map_err(backend)?;
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(backend)?;
    if busy != 0 {
        return Err(StoreError::Backend("compaction could not finish its checkpoint: readers were busy".into()));
    }
    Ok(Vacuum::Done)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rusqlite::Connection;

    use super::*;

    /// A database with free pages for a VACUUM to reclaim, and a writer on it.
    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
        conn: Connection,
        writer: Writer,
    }

    fn fixture(rows: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = database_with_free_pages(&path, rows);
        let writer = Writer::start(connect(&path).unwrap(), true).unwrap();
        Fixture { _dir: dir, path, conn, writer }
    }

    /// A database at `path` with `rows` rows of 1 KiB, the first half of them deleted: pages on
    /// the free list for a VACUUM to reclaim.
    fn database_with_free_pages(path: &Path, rows: u32) -> Connection {
        let conn = connect(path).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)").unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for id in 0..rows {
            conn.execute("INSERT INTO t (id, body) VALUES (?1, zeroblob(1024))", [id]).unwrap();
        }
        conn.execute("DELETE FROM t WHERE id < ?1", [rows / 2]).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        conn
    }

    fn free_pages(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA freelist_count", [], |row| row.get(0)).unwrap()
    }

    fn insert(writer: &Writer, id: u32) -> Result<(), StoreError> {
        writer.submit(move |conn| conn.execute("INSERT INTO t (id) VALUES (?1)", [id]).map(drop).map_err(backend))
    }

    fn pacing(quiet_ms: u64, wait_for_quiet_ms: u64, postpone_at_most: Duration) -> CompactionPacing {
        CompactionPacing {
            quiet: Duration::from_millis(quiet_ms),
            wait_for_quiet: Duration::from_millis(wait_for_quiet_ms),
            yield_after: Duration::from_millis(20),
            postpone_at_most,
        }
    }

    /// Waits (at most 10 s) until `condition` holds.
    fn until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_vacuum_that_gives_way_changes_nothing_and_one_left_to_finish_frees_every_page() {
        let Fixture { path, conn, .. } = &fixture(4000);
        let before = free_pages(conn);
        assert!(before > 100, "the deletions left free pages: {before}");

        assert_eq!(vacuum(path, || true).unwrap(), Vacuum::GaveWay);
        assert_eq!(free_pages(conn), before, "a VACUUM that gave way changed nothing");
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(integrity, "ok");

        assert_eq!(vacuum(path, || false).unwrap(), Vacuum::Done);
        assert_eq!(free_pages(conn), 0, "a finished VACUUM rewrote the file without its free pages");
        let wal = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |wal| wal.len());
        assert_eq!(wal, 0, "the checkpoint truncated the WAL");
    }

    #[test]
    fn a_due_compaction_waits_while_a_write_waits_for_the_lock_and_runs_once_the_writer_is_quiet() {
        let Fixture { path, conn, writer, .. } = &fixture(1000);
        let compaction = Compaction::new(pacing(50, 200, Duration::from_secs(3600)));

        // Another connection holds the write lock: the writer's next batch waits for it.
        let blocker = connect(path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        std::thread::scope(|scope| {
            let write = scope.spawn(|| insert(writer, 1_000_000));
            until("the writer waits for the lock", || writer.activity().waiting_for_lock().is_some());

            compaction.run(writer, path).unwrap();
            assert!(compaction.postponed_since().is_some(), "postponed: a write was waiting");
            assert!(writer.compaction_due(), "and still due");
            assert!(free_pages(conn) > 0, "nothing was compacted");

            blocker.execute_batch("COMMIT").unwrap();
            write.join().unwrap().unwrap();
        });

        compaction.run(writer, path).unwrap();
        assert_eq!(free_pages(conn), 0, "compacted once the writer was quiet");
        assert!(compaction.postponed_since().is_none());
        assert!(!writer.compaction_due(), "no longer due");
    }

    #[test]
    fn a_running_vacuum_gives_way_to_a_write_that_waits_for_it() {
        // Large enough that the VACUUM runs far longer than the write waits before it gives way.
        let Fixture { path, conn, writer, .. } = &fixture(64_000);
        let before = free_pages(conn);
        let compaction = Compaction::new(pacing(0, 0, Duration::from_secs(3600)));
        let locked = connect(path).unwrap();
        locked.busy_timeout(Duration::ZERO).unwrap();

        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let compacting = scope.spawn(|| {
                let ran = compaction.run(writer, path);
                done.store(true, Ordering::SeqCst);
                ran
            });
            // The VACUUM holds the write lock once another connection cannot take it.
            until("the VACUUM holds the write lock", || {
                assert!(!done.load(Ordering::SeqCst), "the VACUUM finished before a write could wait for it");
                locked.execute_batch("BEGIN IMMEDIATE").map(|()| locked.execute_batch("ROLLBACK")).is_err()
            });
            insert(writer, 1_000_000).unwrap();
            compacting.join().unwrap().unwrap();
        });
        assert!(compaction.postponed_since().is_some(), "the VACUUM gave way to the write");
        assert!(writer.compaction_due(), "and the compaction is still due");
        assert_eq!(free_pages(conn), before, "the VACUUM that gave way changed nothing");
    }

    #[test]
    fn a_compaction_postponed_longer_than_the_bound_runs_whatever_the_writer_does() {
        let Fixture { path, conn, writer, .. } = &fixture(1000);
        // The writer is never quiet enough, and a postponement is overdue at once.
        let compaction = Compaction::new(pacing(3_600_000, 0, Duration::ZERO));
        insert(writer, 1_000_000).unwrap();

        compaction.run(writer, path).unwrap();
        assert!(compaction.postponed_since().is_some(), "the first attempt waits for a quiet writer");
        assert!(free_pages(conn) > 0);

        compaction.run(writer, path).unwrap();
        assert_eq!(free_pages(conn), 0, "the overdue compaction ran");
        assert!(compaction.postponed_since().is_none());
    }
}
