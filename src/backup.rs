//! Backups: a consistent copy of the database, encrypted to an age public key, and the
//! restore that puts one back only once its audit chain and its ledger check.
//!
//! The plain copy exists only in a private temporary folder (mode 0700, the file 0600)
//! for as long as it takes to encrypt it, and is removed whatever happens. The server
//! holds only the public key (`PASSAGE_BACKUP_RECIPIENT`): a stolen backup, or a stolen
//! server, opens no backup. On SQLite the copy is `VACUUM INTO`, which reads one snapshot
//! of the write-ahead log beside the running server's writers and writes a fresh file
//! without free pages (so without what the purge zeroed). On PostgreSQL it is `pg_dump
//! --format=custom`, which reads one snapshot too; restoring it needs `pg_restore` of the
//! same or a newer major version.

use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnectOptions;

use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(String),
    #[error(
        "PASSAGE_BACKUP_RECIPIENT is not set: backups are always encrypted; set it to an age \
         public key (age1..., `age-keygen -y KEYFILE` prints it)"
    )]
    NoRecipient,
    #[error("PASSAGE_BACKUP_RECIPIENT: {0:?} is not an age public key (age1...)")]
    BadRecipient(String),
    #[error(
        "{input} was not encrypted to the key in {identity}: use the identity file whose public \
         key was PASSAGE_BACKUP_RECIPIENT when the backup was made"
    )]
    WrongKey { input: String, identity: String },
    #[error("{input} is not a Passage backup ({why})")]
    NotABackup { input: String, why: String },
    #[error("cannot read the identity file {path}: {why}")]
    Identity { path: String, why: String },
    #[error(
        "{0} is in use (a server or another command has it open): stop it before restoring over it"
    )]
    InUse(String),
    #[error(
        "{0} already exists: restore elsewhere, or pass --replace to overwrite it (stop every server using it first)"
    )]
    Exists(String),
    #[error("the backup holds a {backup} database but --database-url names a {target} one")]
    WrongEngine {
        backup: &'static str,
        target: &'static str,
    },
    #[error("the backup's audit chain is broken at event {seq} ({problem}): nothing was restored")]
    AuditBroken { seq: i64, problem: String },
    #[error("the backup's ledger does not check ({0}): nothing was restored")]
    LedgerBroken(String),
    #[error("{tool} failed: {why}")]
    Tool { tool: &'static str, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError::Io(e.to_string())
    }
}

fn io_at(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = format!("{what} {}", path.display());
    move |e| BackupError::Io(format!("cannot {what}: {e}"))
}

/// Parses the public key backups are encrypted to.
pub fn recipient(key: Option<&str>) -> Result<age::x25519::Recipient, BackupError> {
    let key = key.ok_or(BackupError::NoRecipient)?;
    age::x25519::Recipient::from_str(key.trim())
        .map_err(|_| BackupError::BadRecipient(key.to_string()))
}

/// The file of a `sqlite://` URL.
fn sqlite_file(url: &str) -> Result<PathBuf, BackupError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Connect {
        url: crate::store::redact_url(url),
        source: e,
    })?;
    Ok(options.get_filename().to_path_buf())
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// A private temporary folder (0700) in `parent`, removed when dropped.
fn private_dir(parent: Option<&Path>) -> Result<tempfile::TempDir, BackupError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".passage-backup-");
    Ok(match parent {
        Some(p) => builder
            .tempdir_in(p)
            .map_err(io_at("make a folder in", p))?,
        None => builder.tempdir()?,
    })
}

/// An empty file readable by its owner only.
fn private_file(path: &Path) -> Result<std::fs::File, BackupError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_at("create", path))
}

/// The password of a PostgreSQL URL goes to the tool through the environment, never its
/// command line (which `ps` shows).
fn pg_tool(tool: &'static str, url: &str) -> Result<tokio::process::Command, BackupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| BackupError::Tool {
        tool,
        why: format!("the database URL: {e}"),
    })?;
    let mut cmd = tokio::process::Command::new(tool);
    if let Some(password) = parsed.password() {
        let password = percent_decode(password);
        cmd.env("PGPASSWORD", password);
        let _ = parsed.set_password(None);
    }
    cmd.arg(format!("--dbname={parsed}"));
    cmd.stdin(std::process::Stdio::null());
    Ok(cmd)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

async fn run_tool(tool: &'static str, mut cmd: tokio::process::Command) -> Result<(), BackupError> {
    let out = cmd.output().await.map_err(|e| BackupError::Tool {
        tool,
        why: format!(
            "cannot run it ({e}): install PostgreSQL's client tools, of the server's major version or newer"
        ),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool {
            tool,
            why: String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("no message")
                .to_string(),
        })
    }
}

/// Writes a consistent plain copy of the database at `url` into `dir` (private) and
/// returns its path.
async fn plain_copy(url: &str, dir: &Path) -> Result<PathBuf, BackupError> {
    if is_sqlite(url) {
        let copy = dir.join("passage.db");
        drop(private_file(&copy)?);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Connect {
                url: crate::store::redact_url(url),
                source: e,
            })?
            .create_if_missing(false)
            .busy_timeout(std::time::Duration::from_secs(30));
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(StoreError::from)?;
        let copy_name = copy.to_string_lossy().to_string();
        let done = sqlx::query("VACUUM INTO $1")
            .bind(&copy_name)
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        done.map_err(StoreError::from)?;
        Ok(copy)
    } else {
        let copy = dir.join("passage.pgdump");
        drop(private_file(&copy)?);
        let mut cmd = pg_tool("pg_dump", url)?;
        cmd.args(["--format=custom", "--no-owner", "--no-privileges"])
            .arg(format!("--file={}", copy.display()));
        run_tool("pg_dump", cmd).await?;
        Ok(copy)
    }
}

/// Encrypts `plain` to `recipient` into `output`, through `output.partial` (0600) renamed
/// once complete and on disk, so a failed backup never leaves a file that looks whole.
fn encrypt(
    plain: &Path,
    recipient: &age::x25519::Recipient,
    output: &Path,
) -> Result<u64, BackupError> {
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let written = (|| {
        let file = private_file(&partial)?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .map_err(|e| BackupError::Io(format!("cannot encrypt: {e}")))?;
        let mut writer = encryptor
            .wrap_output(std::io::BufWriter::new(file))
            .map_err(io_at("write", &partial))?;
        let mut input = std::fs::File::open(plain).map_err(io_at("read", plain))?;
        std::io::copy(&mut input, &mut writer).map_err(io_at("write", &partial))?;
        let file = writer
            .finish()
            .map_err(io_at("write", &partial))?
            .into_inner()
            .map_err(|e| BackupError::Io(format!("cannot write {}: {e}", partial.display())))?;
        file.sync_all().map_err(io_at("write", &partial))?;
        std::fs::rename(&partial, output).map_err(io_at("write", output))?;
        Ok(std::fs::metadata(output)?.len())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// `passage backup`: a consistent copy of the database at `url`, taken while servers run,
/// encrypted to `recipient` into `output`. Returns the size of the encrypted file.
pub async fn backup(
    url: &str,
    recipient: &age::x25519::Recipient,
    output: &Path,
) -> Result<u64, BackupError> {
    // The plain copy's folder: beside the database for SQLite (the same disk, which
    // already holds the same data in clear), the system's temporary folder otherwise.
    let parent = if is_sqlite(url) {
        sqlite_file(url)?.parent().map(Path::to_path_buf)
    } else {
        None
    };
    let dir = private_dir(parent.as_deref().filter(|p| !p.as_os_str().is_empty()))?;
    let plain = plain_copy(url, dir.path()).await?;
    let recipient = recipient.clone();
    let output = output.to_path_buf();
    let size = tokio::task::spawn_blocking(move || encrypt(&plain, &recipient, &output))
        .await
        .map_err(|e| BackupError::Io(format!("the encryption stopped: {e}")))??;
    dir.close()?;
    Ok(size)
}

/// What a restore put in place.
#[derive(Debug)]
pub struct Restored {
    pub events: i64,
    pub head: String,
    pub last_event_at: Option<DateTime<Utc>>,
    pub schema_version: i64,
}

fn identities(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, BackupError> {
    let fail = |why: String| BackupError::Identity {
        path: path.display().to_string(),
        why,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let ids = age::IdentityFile::from_buffer(BufReader::new(file))
        .map_err(|e| fail(e.to_string()))?
        .into_identities()
        .map_err(|e| fail(e.to_string()))?;
    if ids.is_empty() {
        return Err(fail(
            "it holds no age identity (AGE-SECRET-KEY-1...)".to_string(),
        ));
    }
    Ok(ids)
}

/// Decrypts `input` with the identities in `identity` into `dir`; returns the plain file.
fn decrypt(input: &Path, identity: &Path, dir: &Path) -> Result<PathBuf, BackupError> {
    let ids = identities(identity)?;
    let file = std::fs::File::open(input).map_err(io_at("read", input))?;
    let not_backup = |why: String| BackupError::NotABackup {
        input: input.display().to_string(),
        why,
    };
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file))
        .map_err(|e| not_backup(format!("not an age file: {e}")))?;
    let mut reader = decryptor
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => BackupError::WrongKey {
                input: input.display().to_string(),
                identity: identity.display().to_string(),
            },
            other => not_backup(other.to_string()),
        })?;
    let plain = dir.join("restored");
    let mut out = private_file(&plain)?;
    let mut head = [0_u8; 16];
    let n = read_up_to(&mut reader, &mut head).map_err(|e| not_backup(e.to_string()))?;
    out.write_all(&head[..n])?;
    std::io::copy(&mut reader, &mut out).map_err(|e| not_backup(e.to_string()))?;
    out.sync_all()?;
    Ok(plain)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn engine_of(plain: &Path) -> Result<&'static str, BackupError> {
    let mut head = [0_u8; 16];
    let mut f = std::fs::File::open(plain)?;
    let n = read_up_to(&mut f, &mut head)?;
    if head[..n].starts_with(b"SQLite format 3\0") {
        Ok("SQLite")
    } else if head[..n].starts_with(b"PGDMP") {
        Ok("PostgreSQL")
    } else {
        Err(BackupError::NotABackup {
            input: plain.display().to_string(),
            why: "it decrypts to neither a SQLite file nor a pg_dump".to_string(),
        })
    }
}

/// Whether some connection has the SQLite file open: in WAL mode every open connection
/// holds a shared lock on the file, so an exclusive lock taken without waiting fails.
async fn sqlite_in_use(path: &Path) -> Result<bool, BackupError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::ZERO)
        .pragma("locking_mode", "EXCLUSIVE");
    let mut conn = match sqlx::SqliteConnection::connect_with(&options).await {
        Ok(c) => c,
        Err(_) => return Ok(true),
    };
    let taken = sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await;
    let in_use = taken.is_err();
    if !in_use {
        let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
    }
    let _ = conn.close().await;
    Ok(in_use)
}

/// Opens the restored copy, migrates it forward, and checks its audit chain and ledger.
async fn check_copy(url: &str) -> Result<Restored, BackupError> {
    let db = Db::connect(url, 2).await?;
    let checked = async {
        db.migrate().await?;
        let audit = crate::audit::verify(&db).await?;
        if let Some(link) = audit.broken {
            return Err(BackupError::AuditBroken {
                seq: link.seq,
                problem: link.problem,
            });
        }
        let ledger = crate::ledger::check(&db).await?;
        if !ledger.ok {
            return Err(BackupError::LedgerBroken(ledger.problems.join("; ")));
        }
        let last_event_at: Option<DateTime<Utc>> = crate::on_db!(&db, p => sqlx::query_scalar(
            "SELECT at FROM audit_events ORDER BY seq DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await)
        .map_err(StoreError::from)?;
        Ok(Restored {
            events: audit.events,
            head: audit.head,
            last_event_at,
            schema_version: crate::store::schema_version(),
        })
    }
    .await;
    db.close().await;
    checked
}

/// `passage restore`: decrypts `input` with the key in `identity` into a temporary copy,
/// migrates and checks it (audit chain, ledger), and only then puts it at `target`.
/// Refuses a target in use, and an existing one unless `replace`.
pub async fn restore(
    input: &Path,
    identity: &Path,
    target: &str,
    replace: bool,
) -> Result<Restored, BackupError> {
    if is_sqlite(target) {
        restore_sqlite(input, identity, target, replace).await
    } else {
        restore_postgres(input, identity, target, replace).await
    }
}

async fn restore_sqlite(
    input: &Path,
    identity: &Path,
    target: &str,
    replace: bool,
) -> Result<Restored, BackupError> {
    let path = sqlite_file(target)?;
    if path.exists() {
        if sqlite_in_use(&path).await? {
            return Err(BackupError::InUse(path.display().to_string()));
        }
        if !replace {
            return Err(BackupError::Exists(path.display().to_string()));
        }
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // In the target's folder, so the copy moves into place by a rename.
    let dir = private_dir(Some(parent))?;
    let plain = {
        let (input, identity, dir) = (
            input.to_path_buf(),
            identity.to_path_buf(),
            dir.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || decrypt(&input, &identity, &dir))
            .await
            .map_err(|e| BackupError::Io(format!("the decryption stopped: {e}")))??
    };
    match engine_of(&plain)? {
        "SQLite" => {}
        other => {
            return Err(BackupError::WrongEngine {
                backup: other,
                target: "SQLite",
            });
        }
    }
    let copy_url = format!("sqlite://{}", plain.display());
    let restored = check_copy(&copy_url).await?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).map_err(io_at("remove", &side))?;
        }
    }
    std::fs::rename(&plain, &path).map_err(io_at("move the restored copy to", &path))?;
    dir.close()?;
    Ok(restored)
}

async fn restore_postgres(
    input: &Path,
    identity: &Path,
    target: &str,
    replace: bool,
) -> Result<Restored, BackupError> {
    use sqlx::postgres::PgConnection;

    let url = url::Url::parse(target).map_err(|e| BackupError::Tool {
        tool: "restore",
        why: format!("the database URL: {e}"),
    })?;
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(BackupError::Tool {
            tool: "restore",
            why: format!(
                "name the database in --database-url with letters, digits and _ (got {name:?})"
            ),
        });
    }
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::connect(admin_url.as_str())
        .await
        .map_err(|source| StoreError::Connect {
            url: crate::store::redact_url(admin_url.as_str()),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .map_err(StoreError::from)?;
    if exists {
        if pg_in_use(&mut admin, &name).await? {
            return Err(BackupError::InUse(crate::store::redact_url(target)));
        }
        if !replace {
            return Err(BackupError::Exists(crate::store::redact_url(target)));
        }
    }
    let dir = private_dir(None)?;
    let plain = {
        let (input, identity, dir) = (
            input.to_path_buf(),
            identity.to_path_buf(),
            dir.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || decrypt(&input, &identity, &dir))
            .await
            .map_err(|e| BackupError::Io(format!("the decryption stopped: {e}")))??
    };
    match engine_of(&plain)? {
        "PostgreSQL" => {}
        other => {
            return Err(BackupError::WrongEngine {
                backup: other,
                target: "PostgreSQL",
            });
        }
    }
    let scratch = format!("{name}_restore_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {scratch}"))
        .execute(&mut admin)
        .await
        .map_err(StoreError::from)?;
    let mut scratch_url = url.clone();
    scratch_url.set_path(&format!("/{scratch}"));
    let checked = async {
        let mut cmd = pg_tool("pg_restore", scratch_url.as_str())?;
        cmd.args(["--no-owner", "--no-privileges", "--exit-on-error"])
            .arg(&plain);
        run_tool("pg_restore", cmd).await?;
        check_copy(scratch_url.as_str()).await
    }
    .await;
    let _ = std::fs::remove_file(&plain);
    dir.close()?;
    let restored = match checked {
        Ok(r) => r,
        Err(e) => {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
            return Err(e);
        }
    };
    if exists {
        if pg_in_use(&mut admin, &name).await? {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
            return Err(BackupError::InUse(crate::store::redact_url(target)));
        }
        sqlx::query(&format!("DROP DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(StoreError::from)?;
    }
    sqlx::query(&format!("ALTER DATABASE {scratch} RENAME TO {name}"))
        .execute(&mut admin)
        .await
        .map_err(StoreError::from)?;
    let _ = admin.close().await;
    Ok(restored)
}

/// Whether another session is connected to the database `name`.
async fn pg_in_use(admin: &mut sqlx::PgConnection, name: &str) -> Result<bool, BackupError> {
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_one(admin)
    .await
    .map_err(StoreError::from)?;
    Ok(others > 0)
}

/// The name of a scheduled backup taken at `at`; names sort by time.
fn scheduled_name(at: DateTime<Utc>) -> String {
    format!("passage-{}.age", at.format("%Y%m%dT%H%M%SZ"))
}

fn scheduled_time(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix("passage-")?.strip_suffix(".age")?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The scheduled backups in `dir`, oldest first.
pub fn scheduled_backups(dir: &Path) -> Result<Vec<(DateTime<Utc>, PathBuf)>, BackupError> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io_at("read", dir)(e)),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(scheduled_time) {
            found.push((at, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// What the scheduler did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scheduled {
    pub made: Option<PathBuf>,
    pub removed: usize,
}

/// The scheduler's step, run by the sweeper: when the newest backup in `dir` is `every`
/// old or older (or there is none), takes one named by `now`; then keeps only the
/// newest `keep`.
pub async fn scheduled(
    url: &str,
    recipient: &age::x25519::Recipient,
    dir: &Path,
    every: chrono::Duration,
    keep: usize,
    now: DateTime<Utc>,
) -> Result<Scheduled, BackupError> {
    std::fs::create_dir_all(dir).map_err(io_at("create", dir))?;
    let existing = scheduled_backups(dir)?;
    let due = existing.last().is_none_or(|(at, _)| *at + every <= now);
    let mut done = Scheduled::default();
    if due {
        let path = dir.join(scheduled_name(now));
        backup(url, recipient, &path).await?;
        done.made = Some(path);
    }
    let all = scheduled_backups(dir)?;
    if all.len() > keep {
        for (_, old) in &all[..all.len() - keep] {
            std::fs::remove_file(old).map_err(io_at("remove", old))?;
            done.removed += 1;
        }
    }
    Ok(done)
}
