//! Group commit: one writer task per instance runs the write jobs waiting at that moment
//! one after the other in a single transaction, commits once, and only then answers each
//! of them. A commit costs one fsync whatever it holds, so under load many requests share
//! it; an answer still never leaves before the commit that makes it durable.
//!
//! A job that fails (a closed case, a refused body) is left out of its batch: the batch is
//! rolled back and run again with each job in a savepoint, so the failing one is undone
//! alone and answered with its error while the others commit. Savepoints cost two
//! statements per job, so the writer uses them only while jobs are failing. Anything that goes wrong with the batch itself (a lost
//! race, a failed commit, a savepoint the engine refuses) rolls the whole batch back and
//! runs each of its jobs alone, through [`crate::write_tx!`] and its retries: nothing had
//! been answered yet, so nothing is answered twice or lost.
//!
//! A writer may also be given a [`Together`] stage: before the jobs run one by one, it is
//! handed the inputs of the whole batch and writes, with a few statements for all of them,
//! those it knows how to; the jobs of the others then run as usual in the same
//! transaction. It shares the batch's fate: if anything after it fails, its writes are
//! rolled back with the rest and it runs again (or the jobs run alone).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::{Contention, Db, StoreError, Tx};
use crate::on_tx;

/// A change to make in a write transaction. It may run more than once (a batch that is
/// rolled back runs again), always against what was committed before, so it must read
/// what it needs in `tx` rather than carry conclusions in.
pub type Job<T, E> = Arc<dyn for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + Sync>;

/// How many waiting jobs share one commit at most: a bigger batch saves fsyncs but makes
/// the first job in it wait for all the others.
pub const MAX_BATCH: usize = 128;

/// How many jobs may wait for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;

/// Writes, in `tx` and as a whole, the part of a batch it knows how to, given each entry's
/// input (`None` for a job that came without one). It answers with one slot per entry:
/// the answer of each entry it wrote, `None` for those whose jobs are to run one by one.
/// An error gives the whole batch up (each job then runs alone).
pub type Together<T, E, I> = Arc<
    dyn for<'t> Fn(
            &'t mut Tx,
            Vec<Option<&'t I>>,
        ) -> BoxFuture<'t, Result<Vec<Option<Result<T, E>>>, E>>
        + Send
        + Sync,
>;

struct Entry<T, E, I> {
    job: Job<T, E>,
    input: Option<I>,
    answer: oneshot::Sender<Result<T, E>>,
}

/// The instance's writer for one kind of job. Clones share the writer; the task starts on
/// the first job and ends when the last clone is dropped.
pub struct GroupCommit<T, E, I = ()> {
    db: Db,
    together: Option<Together<T, E, I>>,
    queue: Arc<OnceLock<mpsc::Sender<Entry<T, E, I>>>>,
    counts: Arc<Counts>,
}

/// What the writer has done so far: how many commits it made and how many jobs they held
/// (jobs it had to run alone are counted apart).
#[derive(Debug, Default)]
struct Counts {
    commits: AtomicU64,
    jobs_together: AtomicU64,
    jobs_alone: AtomicU64,
    written_together: AtomicU64,
}

/// A reading of [`GroupCommit::counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Batches committed as one transaction.
    pub commits: u64,
    /// Jobs answered from those batches.
    pub jobs_together: u64,
    /// Jobs run in a transaction of their own after their batch was given up.
    pub jobs_alone: u64,
    /// Of `jobs_together`, those the [`Together`] stage wrote for its batch.
    pub written_together: u64,
}

impl<T, E, I> Clone for GroupCommit<T, E, I> {
    fn clone(&self) -> Self {
        GroupCommit {
            db: self.db.clone(),
            together: self.together.clone(),
            queue: self.queue.clone(),
            counts: self.counts.clone(),
        }
    }
}

impl<T, E, I> GroupCommit<T, E, I>
where
    T: Send + 'static,
    E: From<StoreError> + Contention + Send + 'static,
    I: Send + Sync + 'static,
{
    pub fn new(db: Db) -> Self {
        GroupCommit {
            db,
            together: None,
            queue: Arc::new(OnceLock::new()),
            counts: Arc::default(),
        }
    }

    /// A writer whose batches first go through `together` (see [`Together`]).
    pub fn with_together(db: Db, together: Together<T, E, I>) -> Self {
        GroupCommit {
            together: Some(together),
            ..GroupCommit::new(db)
        }
    }

    pub fn counts(&self) -> Counted {
        Counted {
            commits: self.counts.commits.load(Ordering::Relaxed),
            jobs_together: self.counts.jobs_together.load(Ordering::Relaxed),
            jobs_alone: self.counts.jobs_alone.load(Ordering::Relaxed),
            written_together: self.counts.written_together.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` in the next batch and returns its result once that batch is committed
    /// (or its error, with nothing of it committed).
    pub async fn run(&self, job: Job<T, E>) -> Result<T, E> {
        self.run_with(job, None).await
    }

    /// Like [`GroupCommit::run`], with the input the [`Together`] stage may write the job's
    /// change from instead of running `job`; `job` must make the same change.
    pub async fn run_with(&self, job: Job<T, E>, input: Option<I>) -> Result<T, E> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(
                self.db.clone(),
                self.together.clone(),
                receiver,
                self.counts.clone(),
            ));
            sender
        });
        let (answer, answered) = oneshot::channel();
        queue
            .send(Entry { job, input, answer })
            .await
            .map_err(|_| E::from(StoreError::WriterStopped))?;
        answered
            .await
            .map_err(|_| E::from(StoreError::WriterStopped))?
    }
}

async fn write_batches<T, E, I>(
    db: Db,
    together_stage: Option<Together<T, E, I>>,
    mut queue: mpsc::Receiver<Entry<T, E, I>>,
    counts: Arc<Counts>,
) where
    T: Send + 'static,
    E: From<StoreError> + Contention + Send + 'static,
    I: Send + Sync + 'static,
{
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Savepoints cost two statements per job; they are used only while jobs are failing.
    let mut guarded = false;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let entries = std::mem::take(&mut batch);
        let began = std::time::Instant::now();
        let stage = together_stage.as_ref();
        let mut outcome = together(&db, stage, &entries, guarded).await;
        if matches!(outcome, Batch::JobFailed) {
            guarded = true;
            outcome = together(&db, stage, &entries, true).await;
        }
        let results = match outcome {
            Batch::Committed { results, written } => {
                guarded = results.iter().any(Result::is_err);
                counts.commits.fetch_add(1, Ordering::Relaxed);
                crate::metrics::observe_batch(entries.len(), began.elapsed().as_secs_f64());
                counts
                    .jobs_together
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                counts
                    .written_together
                    .fetch_add(written as u64, Ordering::Relaxed);
                results
            }
            Batch::JobFailed | Batch::GivenUp => {
                // A lost race against another instance, usually: expected, and handled.
                tracing::info!(
                    jobs = entries.len(),
                    "a batch of writes was given up as a whole: running each alone"
                );
                counts
                    .jobs_alone
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                alone(&db, &entries).await
            }
        };
        tracing::debug!(
            jobs = entries.len(),
            ms = began.elapsed().as_secs_f64() * 1000.0,
            "wrote a batch"
        );
        for (entry, result) in entries.into_iter().zip(results) {
            // A caller that went away (its client hung up) still had its change made:
            // a retry with the same Idempotency-Key gets this answer.
            let _ = entry.answer.send(result);
        }
    }
}

/// What became of a batch run together.
enum Batch<T, E> {
    /// Committed; each job's answer, an error for those left out, and how many of them
    /// the [`Together`] stage wrote.
    Committed {
        results: Vec<Result<T, E>>,
        written: usize,
    },
    /// Run without savepoints, a job failed: rolled back, to be run again with them.
    JobFailed,
    /// Rolled back as a whole (a lost race, a failed commit): each job is to run alone.
    GivenUp,
}

/// The batch in one transaction. `guarded`, each job runs in a savepoint, so a failing one
/// is undone alone; unguarded, the first failure rolls the whole batch back (nothing of it
/// committed) and the batch must be run again guarded.
async fn together<T, E, I>(
    db: &Db,
    stage: Option<&Together<T, E, I>>,
    entries: &[Entry<T, E, I>],
    guarded: bool,
) -> Batch<T, E>
where
    E: From<StoreError> + Contention,
{
    let began = std::time::Instant::now();
    let Ok(mut tx) = db.begin_write().await else {
        return Batch::GivenUp;
    };
    let opened = began.elapsed();
    let mut written: Vec<Option<Result<T, E>>> = Vec::new();
    if let Some(stage) = stage
        && entries.iter().any(|e| e.input.is_some())
    {
        let inputs = entries.iter().map(|e| e.input.as_ref()).collect();
        match AssertUnwindSafe(stage(&mut tx, inputs))
            .catch_unwind()
            .await
        {
            Ok(Ok(answers)) if answers.len() == entries.len() => written = answers,
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                let _ = tx.rollback().await;
                return Batch::GivenUp;
            }
        }
    }
    let written_count = written.iter().filter(|w| w.is_some()).count();
    let mut written = written.into_iter();
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(Some(answer)) = written.next() {
            results.push(answer);
            continue;
        }
        if guarded && statement(&mut tx, "SAVEPOINT passage_job").await.is_err() {
            let _ = tx.rollback().await;
            return Batch::GivenUp;
        }
        let result = match AssertUnwindSafe((entry.job)(&mut tx)).catch_unwind().await {
            Ok(result) => result,
            Err(_) => Err(E::from(StoreError::JobPanicked)),
        };
        let (failed, lost_race) = match &result {
            Ok(_) => (false, false),
            Err(e) => (true, e.is_contention()),
        };
        let kept = match (failed, guarded) {
            (false, false) => Ok(()),
            (false, true) => statement(&mut tx, "RELEASE SAVEPOINT passage_job").await,
            // A lost race is settled by running the job again on its own; the batch
            // cannot wait for the winner inside its own transaction.
            _ if lost_race => {
                let _ = tx.rollback().await;
                return Batch::GivenUp;
            }
            (true, false) => {
                let _ = tx.rollback().await;
                return Batch::JobFailed;
            }
            (true, true) => match statement(&mut tx, "ROLLBACK TO SAVEPOINT passage_job").await {
                Ok(()) => statement(&mut tx, "RELEASE SAVEPOINT passage_job").await,
                Err(e) => Err(e),
            },
        };
        if kept.is_err() {
            let _ = tx.rollback().await;
            return Batch::GivenUp;
        }
        results.push(result);
    }
    let ran = began.elapsed();
    let committed = tx.commit().await;
    tracing::debug!(
        open_ms = opened.as_secs_f64() * 1000.0,
        run_ms = (ran - opened).as_secs_f64() * 1000.0,
        commit_ms = (began.elapsed() - ran).as_secs_f64() * 1000.0,
        "a batch's transaction"
    );
    match committed {
        Ok(()) => Batch::Committed {
            results,
            written: written_count,
        },
        Err(_) => Batch::GivenUp,
    }
}

/// Each job in a transaction of its own, with [`crate::write_tx!`]'s retries.
async fn alone<T, E, I>(db: &Db, entries: &[Entry<T, E, I>]) -> Vec<Result<T, E>>
where
    E: From<StoreError> + Contention,
{
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let job = &entry.job;
        let result = AssertUnwindSafe(async {
            crate::write_tx!(db, |tx| -> Result<T, E> async { job(tx).await })
        })
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(E::from(StoreError::JobPanicked)));
        results.push(result);
    }
    results
}

async fn statement(tx: &mut Tx, sql: &'static str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(sql).execute(c).await.map(|_| ()))?;
    Ok(())
}
