//! The writer thread: every write runs here, and concurrent writes share one commit.
//!
//! With `synchronous=FULL` each commit waits for an fsync. Many phones fetching at once would
//! each wait for their own; instead, writes queue here, and the thread runs everything queued
//! as savepoints inside one transaction and commits once (group commit); under load, commits
//! are paced so that each gathers more (see [`crate::commit_pacer`]). A write that fails rolls
//! back only its savepoint. Every caller is answered after the commit that holds its write, so
//! an acknowledged write is durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use std::cell::RefCell;

use rusqlite::Connection;
use sipprov_credentials::{AuditEvent, StoreError};

use crate::commit_pacer::CommitPacer;

/// Most writes one commit carries; bounds how long the first waiter in a batch waits.
const MAX_BATCH: usize = 256;

/// One write: runs inside a savepoint and says whether it succeeded; `finish` is called with the
/// commit's outcome once the batch is committed.
pub(crate) type Job = Box<dyn FnOnce(&Connection) -> Done + Send>;

pub(crate) struct Done {
    ok: bool,
    finish: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// The handle callers submit writes through.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Whether a write that may have taken a secret out of a record ran since the last
    /// compaction began (see [`Writer::clear_compaction_due`]). True at start: the process
    /// before may have stopped between a purge and its compaction.
    compaction_due: Arc<AtomicBool>,
    activity: Arc<Activity>,
}

/// What the writer thread is doing, for compaction to keep out of the way of writes.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    /// When the thread began waiting for the write lock (`BEGIN IMMEDIATE`), as a [`Stamp`];
    /// 0 while it is not waiting.
    waiting_since: AtomicU64,
    /// When its last batch was committed, as a [`Stamp`]; 0 before the first.
    last_batch: AtomicU64,
}

/// A moment as nanoseconds after [`Activity::epoch`], plus one, so 0 can mean "never".
type Stamp = u64;

impl Activity {
    fn new() -> Self {
        Self { epoch: Instant::now(), waiting_since: AtomicU64::new(0), last_batch: AtomicU64::new(0) }
    }

    fn now(&self) -> Stamp {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn since(&self, stamp: Stamp) -> Option<Duration> {
        let at = Duration::from_nanos(stamp.checked_sub(1)?);
        Some(self.epoch.elapsed().saturating_sub(at))
    }

    /// How long the writer has been waiting for the write lock (another connection holds it:
    /// a compaction's VACUUM, or another process), if it is waiting.
    pub(crate) fn waiting_for_lock(&self) -> Option<Duration> {
        self.since(self.waiting_since.load(Ordering::SeqCst))
    }

    /// Whether the writer neither waits for the lock nor ran a batch in the last `quiet`.
    pub(crate) fn is_quiet(&self, quiet: Duration) -> bool {
        self.waiting_for_lock().is_none()
            && self.since(self.last_batch.load(Ordering::SeqCst)).is_none_or(|idle| idle >= quiet)
    }
}

impl Writer {
    /// Starts the thread that owns `conn` for writing. It ends when the `Writer` is dropped.
    pub(crate) fn start(conn: Connection, group_commit: bool) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let activity = Arc::new(Activity::new());
        let shown = Arc::clone(&activity);
        thread::Builder::new().name("sipprov-sqlite-writer".into()).spawn(move || {
            let mut pacer = CommitPacer::new(MAX_BATCH);
            while let Ok(first) = queue.recv() {
                let mut batch = vec![first];
                if group_commit {
                    batch.extend(queue.try_iter().take(MAX_BATCH - 1));
                    // Asleep between looks rather than woken by each arriving write: their
                    // senders need not wake this thread, and it takes them all at once.
                    let mut grew = true;
                    while let Some(nap) = pacer.next_look(Instant::now(), batch.len(), grew) {
                        thread::sleep(nap);
                        let before = batch.len();
                        batch.extend(queue.try_iter().take(MAX_BATCH - before));
                        grew = batch.len() > before;
                    }
                }
                pacer.committed(batch.len(), Instant::now());
                run_batch(&conn, batch, &shown);
            }
        })?;
        Ok(Self { jobs, compaction_due: Arc::new(AtomicBool::new(true)), activity })
    }

    /// What the writer thread is doing.
    pub(crate) fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.activity)
    }

    /// Whether a write that may have removed a secret ran since the last compaction began.
    pub(crate) fn compaction_due(&self) -> bool {
        self.compaction_due.load(Ordering::SeqCst)
    }

    /// Clears the mark as a compaction starts: writes from now on mark it again. A compaction
    /// that fails or gives way puts it back with [`Writer::compaction_still_due`].
    pub(crate) fn clear_compaction_due(&self) {
        self.compaction_due.store(false, Ordering::SeqCst);
    }

    /// Marks the store as needing compaction again (the compaction did not finish).
    pub(crate) fn compaction_still_due(&self) {
        self.compaction_due.store(true, Ordering::SeqCst);
    }

    /// Runs `work` in the next batch and returns its result once the batch is committed.
    pub(crate) fn submit<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.submit_keeping_secrets(self.marking_compaction_due(work))
    }

    /// [`Writer::submit`] for a write that takes no secret out of any record (last-seen facts,
    /// and the alerts they raise), so the store needs no compaction for it: the stale copies a
    /// page's free space may keep are then all of secrets still in their records.
    pub(crate) fn submit_keeping_secrets<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = mpsc::sync_channel::<Result<R, StoreError>>(1);
        self.enqueue(work, move |result| {
            let _ = reply.send(result);
        });
        answer
            .recv()
            .map_err(|_| StoreError::Backend("write not committed: the SQLite writer could not run it".into()))?
    }

    /// Runs `work` in the next batch and hands its result to `done` on the writer thread, once
    /// the batch is committed. `done` is dropped uncalled if the write cannot be run. It runs
    /// on the writer thread, so it must be quick and must not call the store.
    pub(crate) fn submit_then<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        done: impl FnOnce(Result<R, StoreError>) + Send + 'static,
    ) {
        self.enqueue(self.marking_compaction_due(work), done);
    }

    /// `work`, marking the store as needing compaction when it runs: a write that runs after a
    /// compaction took the mark (waiting behind its VACUUM) leaves it for the next one.
    fn marking_compaction_due<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static {
        let due = Arc::clone(&self.compaction_due);
        move |conn| {
            due.store(true, Ordering::SeqCst);
            work(conn)
        }
    }

    fn enqueue<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        done: impl FnOnce(Result<R, StoreError>) + Send + 'static,
    ) {
        let job: Job = Box::new(move |conn| {
            let result = work(conn);
            let ok = result.is_ok();
            Done {
                ok,
                finish: Box::new(move |commit| {
                    done(match commit {
                        Err(e) if ok => Err(StoreError::Backend(format!("commit failed: {e}").into())),
                        _ => result,
                    })
                }),
            }
        });
        // A stopped writer drops the job, and `done` with it.
        let _ = self.jobs.send(job);
    }
}

thread_local! {
    /// The audit events of the batch running on this (the writer) thread, logged once it is
    /// committed; `None` outside a batch.
    static TO_LOG: RefCell<Option<Vec<AuditEvent>>> = const { RefCell::new(None) };
}

/// Logs `events`, which the running job is writing, once its batch is committed.
pub(crate) fn log_when_committed(events: &[AuditEvent]) {
    TO_LOG.with_borrow_mut(|to_log| {
        if let Some(to_log) = to_log {
            to_log.extend_from_slice(events);
        }
    });
}

fn run_batch(conn: &Connection, batch: Vec<Job>, activity: &Activity) {
    // A job that cannot run inside a transaction is dropped unrun: dropping it drops its reply
    // channel, and its caller gets an error saying the write was not committed.
    activity.waiting_since.store(activity.now(), Ordering::SeqCst);
    let begun = conn.execute_batch("BEGIN IMMEDIATE");
    activity.waiting_since.store(0, Ordering::SeqCst);
    if begun.is_err() {
        return;
    }
    let mut finishes = Vec::with_capacity(batch.len());
    TO_LOG.with_borrow_mut(|to_log| *to_log = Some(Vec::new()));
    // Prepared once per connection: a storm of first deliveries runs these for every job.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut statement| statement.execute([])).map(drop);
    for job in batch {
        if run("SAVEPOINT job").is_err() {
            continue;
        }
        let logged_before = TO_LOG.with_borrow(|to_log| to_log.as_ref().map_or(0, Vec::len));
        let done = job(conn);
        let closed =
            if done.ok { run("RELEASE job") } else { run("ROLLBACK TO job").and_then(|()| run("RELEASE job")) };
        if !done.ok || closed.is_err() {
            TO_LOG.with_borrow_mut(|to_log| to_log.iter_mut().for_each(|events| events.truncate(logged_before)));
        }
        finishes.push((done.finish, closed.map_err(|e| e.to_string())));
    }
    let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    // Before any caller hears of its write, so none sees the writer as idle.
    activity.last_batch.store(activity.now(), Ordering::SeqCst);
    let committed = TO_LOG.with_borrow_mut(Option::take).unwrap_or_default();
    if commit.is_ok() {
        sipprov_credentials::log_committed(&committed);
    }
    for (finish, closed) in finishes {
        // A caller's callback runs here; one that panics must not take the writer, and every
        // later write, with it. The write itself stands; the panic is its caller's to report.
        let outcome = closed.and(commit.clone());
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| finish(outcome)));
    }
}
