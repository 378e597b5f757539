//! Builds the application from configuration, serves it and shuts it down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::identity::{self, IdentityError};
use crate::ledger;
use crate::mail::{self, MailError, Mailer};
pub use crate::state::AppState;
use crate::state::Grouped;
use crate::store::Db;
use crate::store::group::Together;

impl AppState {
    /// The state of one instance. Its group writer decides each batch of submissions
    /// together, through the same path a submission's own job takes alone (see
    /// [`crate::http::decide_submissions`]).
    pub fn new(db: Db, clock: SharedClock, config: Arc<Config>) -> AppState {
        let stage_clock = clock.clone();
        let base_url: Arc<str> = config.base_url.as_str().into();
        let stage: Together<_, _, _> = Arc::new(move |tx, batch| {
            let base_url = base_url.clone();
            let now = stage_clock.now();
            Box::pin(
                async move { crate::http::decide_submissions(tx, now, &base_url, batch).await },
            )
        });
        let grouped = Grouped::with_together(db.clone(), stage);
        AppState {
            grouped,
            db,
            clock,
            config,
            activity: Arc::default(),
            checks: Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (PASSAGE_BIND): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} (PASSAGE_METRICS_BIND): {source}")]
    MetricsBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot prepare the signing keys: {0}")]
    Keys(#[from] IdentityError),
    #[error("cannot prepare mail delivery: {0}")]
    Mail(#[from] MailError),
    #[error("cannot store the donor links emailed before this release: {0}")]
    DonorLinks(#[from] crate::store::StoreError),
}

/// A running server: its address, and a way to stop it and wait until it has stopped.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served alone, when `PASSAGE_METRICS_BIND` is set.
    pub metrics_addr: Option<SocketAddr>,
    metrics_server: Option<JoinHandle<Result<(), std::io::Error>>>,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), std::io::Error>>,
    sweeper: JoinHandle<()>,
    mailer: JoinHandle<()>,
    last_seen: JoinHandle<()>,
    /// For the last write of last-seen times, once the last request has finished.
    state: AppState,
}

impl Running {
    /// Makes sure a token signing key exists, binds `config.bind` (port 0 picks a free
    /// port), then serves in the background.
    pub async fn start(state: AppState) -> Result<Running, ServeError> {
        identity::keys::ensure(&state.db, &state.config, state.clock.now()).await?;
        // Before anything runs: the links already emailed keep opening (see reports::donor).
        let adopted =
            crate::reports::donor::adopt_legacy_links(&state.db, state.clock.now()).await?;
        if adopted > 0 {
            tracing::info!(
                links = adopted,
                "stored the donor links emailed before this release"
            );
        }
        let outbox_mailer = Mailer::from_config(&state.config)?;
        tracing::info!(transport = %outbox_mailer.describe(), "mail delivery is ready");
        let listener = TcpListener::bind(state.config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: state.config.bind,
                source,
            })?;
        let addr = listener.local_addr()?;
        let metrics_listener = match state.config.metrics_bind {
            Some(at) => Some(
                TcpListener::bind(at)
                    .await
                    .map_err(|source| ServeError::MetricsBind { addr: at, source })?,
            ),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let metrics_addr = match &metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let metrics_server = metrics_listener.map(|listener| {
            let mut stopped_metrics = stopped.clone();
            tokio::spawn(crate::http::server::serve(
                listener,
                crate::http::metrics_router(state.clone()),
                Duration::from_secs(state.config.header_timeout_secs),
                async move {
                    let _ = stopped_metrics.wait_for(|s| *s).await;
                },
            ))
        });
        let sweeper = tokio::spawn(sweep_holds(state.clone(), stopped.clone()));
        let mailer = tokio::spawn(deliver_mail(state.clone(), outbox_mailer, stopped.clone()));
        let last_seen = tokio::spawn(write_last_seen(state.clone(), stopped.clone()));
        let kept = state.clone();
        let header_timeout = Duration::from_secs(state.config.header_timeout_secs);
        let app = crate::http::router(state.clone(), crate::web::router(state));
        let mut stopped_server = stopped;
        let server = tokio::spawn(crate::http::server::serve(
            listener,
            app,
            header_timeout,
            async move {
                let _ = stopped_server.wait_for(|s| *s).await;
            },
        ));
        Ok(Running {
            addr,
            metrics_addr,
            metrics_server,
            stop,
            server,
            sweeper,
            mailer,
            last_seen,
            state: kept,
        })
    }

    /// Stops taking connections, lets requests in flight finish, and returns.
    pub async fn stop(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let _ = self.sweeper.await;
        let _ = self.mailer.await;
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        let served = match self.server.await {
            Ok(result) => result.map_err(ServeError::from),
            Err(join) => Err(ServeError::Io(std::io::Error::other(join))),
        };
        // After the last request: its last-seen time is written too.
        let _ = self.last_seen.await;
        if let Err(e) = self.state.activity.flush(&self.state.db).await {
            tracing::warn!(error = %e, "could not write sessions' last-seen times on stopping");
        }
        served
    }
}

/// Serves until `shutdown` completes, then drains requests in flight.
pub async fn serve(state: AppState, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let running = Running::start(state.clone()).await?;
    tracing::info!(addr = %running.addr, "Passage is listening");
    if let Some(at) = running.metrics_addr {
        tracing::info!(addr = %at, "/metrics is served on its own listener (PASSAGE_METRICS_BIND)");
    }
    match identity::users::any_active_admin(&state.db).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "no admin yet: create one with `passage user add --email you@example.org --roles admin --password-stdin` \
             (the same PASSAGE_* settings as this server; there is no default password)"
        ),
        Err(e) => tracing::warn!(error = %e, "could not check whether an admin exists"),
    }
    shutdown.await;
    tracing::info!("shutting down: finishing requests in flight");
    running.stop().await
}

/// One pass of the sweeper: requests' holds first (their status changes with the hold),
/// then any other hold the ledger still has past its time, then the purge of the free text
/// of requests closed longer than the retention period (and of the bodies of mail sent
/// as long ago), then the monthly and
/// quarterly report drafts and the reminders to seal them, and last the scheduled backup
/// when one is due (`PASSAGE_BACKUP_DIR`). Public so tests can drive
/// it with their own clock instead of waiting for the schedule.
pub async fn sweep_once(state: &AppState) -> Result<usize, String> {
    let now = state.clock.now();
    let requests = crate::approval::lifecycle::expire_due(&state.db, now)
        .await
        .map_err(|e| e.to_string())?;
    let others = ledger::sweep_expired(&state.db, now)
        .await
        .map_err(|e| e.to_string())?;
    let escalated = crate::approval::notify::escalate_due(&state.db, now, &state.config.base_url)
        .await
        .map_err(|e| e.to_string())?;
    if escalated > 0 {
        tracing::info!(escalated, "escalated urgent requests to every treasurer");
    }
    let reminded_holds =
        crate::approval::notify::remind_holds_due(&state.db, now, &state.config.base_url)
            .await
            .map_err(|e| e.to_string())?;
    if reminded_holds > 0 {
        tracing::info!(
            reminded_holds,
            "reminded organisations of receipts missing before their holds expire"
        );
    }
    let retention = chrono::Duration::days(i64::from(state.config.retention_days));
    let purged = crate::approval::lifecycle::purge_closed(&state.db, now, retention)
        .await
        .map_err(|e| e.to_string())?;
    if purged.any() {
        tracing::info!(
            requests = purged.requests,
            answers = purged.answers,
            mails = purged.mails,
            "purged the free text of closed requests and the bodies of sent mail"
        );
    }
    let drafted = crate::reports::schedule::draft_due(&state.db, &state.config, now)
        .await
        .map_err(|e| e.to_string())?;
    if drafted > 0 {
        tracing::info!(drafted, "drafted the reports of the last month and quarter");
    }
    let reminded = crate::reports::schedule::remind_due(&state.db, &state.config, now)
        .await
        .map_err(|e| e.to_string())?;
    if reminded > 0 {
        tracing::info!(reminded, "reminded treasurers of reports to seal");
    }
    if let Some(dir) = &state.config.backup_dir {
        let recipient = crate::backup::recipient(state.config.backup_recipient.as_deref())
            .map_err(|e| e.to_string())?;
        let done = crate::backup::scheduled(
            &state.config.database_url,
            &recipient,
            dir,
            chrono::Duration::hours(i64::from(state.config.backup_every_hours)),
            state.config.backup_keep as usize,
            now,
        )
        .await
        .map_err(|e| format!("the scheduled backup failed: {e}"))?;
        if let Some(path) = &done.made {
            tracing::info!(path = %path.display(), removed = done.removed, "took a scheduled backup");
        }
    }
    crate::metrics::sweeper_ran(state.clock.now());
    Ok(requests + others)
}

/// Runs the sweeper on a schedule. Each expiry is its own transaction keyed by the hold,
/// so a restart or a second instance never expires a hold twice.
async fn sweep_holds(state: AppState, mut stopped: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.sweep_interval_secs);
    loop {
        match sweep_once(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired unused holds"),
            Err(e) => tracing::warn!(error = %e, "could not expire holds; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// How often sessions' last-seen times are written out: a session's row is written at
/// most this often, whatever its traffic.
pub const LAST_SEEN_EVERY: Duration = Duration::from_secs(60);

/// Writes the sessions' last-seen times out every [`LAST_SEEN_EVERY`] (and once more when
/// the server has stopped: [`Running::stop`]); see [`crate::identity::sessions`].
async fn write_last_seen(state: AppState, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LAST_SEEN_EVERY) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        if let Err(e) = state.activity.flush(&state.db).await {
            tracing::warn!(error = %e, "could not write sessions' last-seen times; will try again");
        }
    }
}

/// How long stopping waits for a delivery round in flight (a hung SMTP server must not
/// hold a shutdown for the SMTP timeout of every claimed row).
const MAIL_STOP_GRACE: Duration = Duration::from_secs(10);

/// Delivers the outbox on a schedule (`PASSAGE_MAIL_INTERVAL_SECS`). Several instances
/// may run this at once: each row is claimed by one of them (see `mail::deliver_due`).
/// Stopping lets the round in flight finish for up to [`MAIL_STOP_GRACE`]; rows it then
/// abandons stay claimed until their lease ends and are sent after a restart (a message
/// cut off after the server accepted it may arrive twice, with the same Message-ID).
async fn deliver_mail(state: AppState, mailer: Mailer, mut stopped: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.mail_interval_secs);
    loop {
        let round = mail::deliver_due_with_lease(
            &state.db,
            &mailer,
            state.clock.now(),
            chrono::Duration::seconds(i64::from(state.config.mail_lease_secs)),
        );
        tokio::pin!(round);
        let (result, stopping) = tokio::select! {
            result = &mut round => (Some(result), false),
            // The guard `wait_for` returns must not live across the grace's await.
            _ = async { let _ = stopped.wait_for(|s| *s).await; } => {
                (tokio::time::timeout(MAIL_STOP_GRACE, &mut round).await.ok(), true)
            }
        };
        match result {
            Some(Ok(0)) => {}
            Some(Ok(n)) => tracing::info!(sent = n, "sent mail from the outbox"),
            Some(Err(e)) => tracing::warn!(error = %e, "could not deliver mail; will try again"),
            None => tracing::warn!(
                "stopped during a mail delivery round; its mail is sent after the restart"
            ),
        }
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
