use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use passage::app::{self, AppState};
use passage::audit::Actor;
use passage::clock::{Clock, SystemClock};
use passage::config::Config;
use passage::domain::{Email, Language, OrgType, Province, Roles};
use passage::export::{Export, Format};
use passage::identity::{keys, orgs, users};
use passage::progress::{Progress, Unit};
use passage::store::{Db, StoreError};
use passage::{audit, ledger, reports};

/// Passage: a pooled emergency fund for organisations that help people leaving human
/// trafficking. Every command reads the same configuration (PASSAGE_* variables, or a
/// TOML file named by PASSAGE_CONFIG); see README.md.
#[derive(Parser)]
#[command(name = "passage", version = version_line(), about, long_about = None, after_help = settings_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API on PASSAGE_BIND until SIGINT or SIGTERM.
    Serve,
    /// Fill an empty database with a small demo coalition (organisations, caseworkers and
    /// treasurers whose passwords are printed once, donors, donations and requests in
    /// every state), then serve it. Uses sqlite://passage-demo.db unless
    /// PASSAGE_DATABASE_URL names another; refuses a database that holds data.
    Demo,
    /// Apply the database migrations embedded in this binary, then exit.
    Migrate,
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Write the ledger as an hledger journal, a beancount file or CSV, from one snapshot
    /// of the database; the journals end by asserting the service's balances, so
    /// `hledger check -s` and `bean-check` prove they add up.
    Export {
        /// hledger, beancount or csv.
        #[arg(long)]
        format: Format,
        /// Write here instead of standard output; the file appears only once complete.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage member organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage the keys that sign session tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The approval rules.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Donor reports.
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
    },
    /// Take a consistent copy of the database while servers run, encrypted to
    /// PASSAGE_BACKUP_RECIPIENT (an age public key). SQLite: VACUUM INTO; PostgreSQL:
    /// pg_dump --format=custom. The plain copy lives in a private temporary folder only
    /// while it is encrypted.
    Backup {
        /// The encrypted backup to write (mode 0600); it appears only once complete.
        #[arg(long)]
        output: PathBuf,
    },
    /// Put a backup back: decrypt it into a temporary copy, migrate it, check its audit
    /// chain and its ledger, and only then move it into place. Refuses a database in use,
    /// and an existing one without --replace.
    Restore {
        /// The encrypted backup (from `passage backup`).
        #[arg(long)]
        input: PathBuf,
        /// The age identity file holding the secret key (AGE-SECRET-KEY-1...).
        #[arg(long)]
        identity: PathBuf,
        /// Where to restore: sqlite://PATH or postgres://.../DATABASE.
        #[arg(long)]
        database_url: String,
        /// Overwrite an existing database (never one in use).
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Put the policy document in FILE (JSON, as `PUT /api/v1/policy` takes it) in force
    /// at once, without a second treasurer's signature; audited as `cli`. This is how a
    /// fund with a single treasurer sets its rules: whoever has this shell has the database
    /// anyway. Through the API and the pages a change needs two treasurers.
    Apply {
        /// The policy document, a JSON file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Queue the emails of every sealed report nobody has sent yet (for cron); each donor
    /// gets each report once, however often this runs.
    Send,
    /// Print the summary a report of a period would show now (JSON), storing nothing; the
    /// period must start where the chain of frozen reports ends.
    Preview {
        /// The first day, such as 2026-11-01.
        start: chrono::NaiveDate,
        /// The last day, included.
        end: chrono::NaiveDate,
    },
    /// Check a frozen report: its stored bytes against its hash, and the ledger entries it
    /// covers against the digest kept when it was frozen (reports frozen before digests:
    /// recomputed from the ledger); exit 1 if anything differs. With `--file`, check a
    /// downloaded summary file (`summary.json` of the donor's page or the API): its SHA-256
    /// must be a frozen report's hash, and that report must match the books; a file with a
    /// figure changed is named with the figure.
    Verify {
        /// The report's id.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        id: Option<String>,
        /// A summary file downloaded from the report's page or the API.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user, reading the password from standard input (never from the command
    /// line, where it would stay in the shell history); prints the new user's id.
    Add {
        #[arg(long)]
        email: String,
        /// Comma-separated: caseworker, treasurer, admin.
        #[arg(long)]
        roles: String,
        /// The organisation's id (required for a caseworker).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// fr or en.
        #[arg(long, default_value = "fr")]
        language: String,
        /// Read the password from standard input (one line). Required.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add an organisation; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// shelter, youth, legal_aid, victim_services, immigrant_support,
        /// sex_worker_support, labour_rights, indigenous, health, coalition or other.
        #[arg(long = "type")]
        org_type: String,
        /// Two-letter province or territory code, e.g. QC.
        #[arg(long)]
        province: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key; new tokens are signed with it, tokens signed with older
    /// keys stay valid until they expire or their key is retired.
    Rotate,
    /// Retire a signing key: every token it signed stops working at once on every
    /// instance. Retiring the key that signs makes a new one first.
    Retire {
        /// The key id (`passage keys list`, or the `kid` in a token's header).
        kid: String,
    },
    /// List the signing keys (ids and dates, never a secret) and what each does.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first broken event if there is one.
    Verify,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Compare every cached balance with the balance derived from the transfers; exit 1
    /// on any difference.
    Check,
}

/// `passage --version`: the release and the schema version it migrates a database to.
fn version_line() -> &'static str {
    static LINE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} (schema version {})",
            env!("CARGO_PKG_VERSION"),
            passage::store::schema_version()
        )
    });
    &LINE
}

fn settings_help() -> String {
    let mut help = String::from("Settings (environment, with defaults):\n");
    for (name, default) in Config::defaults() {
        let default = if default.is_empty() {
            "(none)"
        } else {
            default
        };
        help.push_str(&format!("  {name:<30} {default}\n"));
    }
    help
}

/// A failure that ends the command: one line on stderr, and an exit code.
struct Failure {
    message: String,
    code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("passage: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("passage: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("passage: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Opens the database: through SQLite's memory map for a server (`mapped`), without it
/// for a command that reads through the file once (see [`Db::connect_unmapped`]).
async fn open(config: &Config, mapped: bool) -> Result<Db, Failure> {
    let db = if mapped {
        Db::connect(&config.database_url, config.db_max_connections).await?
    } else {
        Db::connect_unmapped(&config.database_url, config.db_max_connections).await?
    };
    db.migrate().await?;
    Ok(db)
}

async fn add_user(
    db: &Db,
    email: String,
    roles: String,
    org: Option<String>,
    name: Option<String>,
    language: String,
) -> Result<(), Failure> {
    let email = Email::parse(&email).map_err(|e| format!("--email {e}"))?;
    let roles = Roles::parse_list(&roles).map_err(|e| format!("--roles {e}"))?;
    let language: Language = language.parse()?;
    let display_name = users::parse_display_name(name.as_deref())?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    // A password chosen now: long enough and not one of the most common.
    let password = passage::identity::password::parse_new("password", line.to_string())
        .map_err(|e| format!("the {e}"))?;
    let new = users::NewUser {
        email,
        password,
        roles,
        org_id: org,
        language,
        display_name,
    };
    let id = users::create(db, SystemClock.now(), &Actor::cli(), new).await?;
    println!("{id}");
    Ok(())
}

/// `passage policy apply FILE`: every problem of the document at once, one per line.
/// `passage reports verify --file FILE`: a downloaded summary file against the books.
async fn verify_summary_file(db: &Db, file: &Path) -> Result<(), Failure> {
    use reports::lifecycle::FileCheck;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let shown = file.display();
    match reports::lifecycle::verify_file(db, &bytes).await? {
        FileCheck::Report(v) if v.matches => {
            println!("file sha256      {}", v.hash);
            println!("report {} ({})", v.id, v.status);
            println!(
                "ok: {shown} is the summary of report {} as it was hashed, and the report still matches the ledger",
                v.id
            );
            Ok(())
        }
        FileCheck::Report(v) => Err(Failure {
            message: format!(
                "{shown} is the summary of report {}, but the report no longer matches the books: {} (run passage reports verify {} for details)",
                v.id,
                v.differences.join(", "),
                v.id
            ),
            code: 1,
        }),
        FileCheck::Differs {
            id,
            period,
            hash,
            differences,
        } => {
            let what: Vec<String> = differences
                .iter()
                .map(|d| {
                    format!(
                        "{} is {} in the file, {} in the report",
                        d.path, d.in_file, d.in_report
                    )
                })
                .collect();
            Err(Failure {
                message: format!(
                    "{shown} is not the sealed summary of report {id} ({} to {}): its sha256 is {hash}, not the report's; {}",
                    period.0,
                    period.1,
                    if what.is_empty() {
                        "the figures are the same but the bytes differ (the file must be kept exactly as downloaded)".to_string()
                    } else {
                        what.join("; ")
                    }
                ),
                code: 1,
            })
        }
        FileCheck::Unknown { hash, why } => Err(Failure {
            message: format!(
                "{shown} is no report's summary: its sha256 {hash} is no frozen report's hash, and {why}"
            ),
            code: 1,
        }),
    }
}

async fn apply_policy(db: &Db, file: &Path) -> Result<(), Failure> {
    use passage::approval::versions;

    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    let policy = versions::parse(doc).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("  {}: {}", e.field, e.message))
            .collect();
        format!(
            "{} is not a valid policy; fix these fields and run again:\n{}",
            file.display(),
            lines.join("\n")
        )
    })?;
    let now = SystemClock.now();
    let applied = passage::write_tx!(db, |tx| -> Result<versions::PolicyVersion, StoreError> async {
        versions::current(tx, now).await?;
        versions::apply(tx, now, &Actor::cli(), policy.clone()).await
    })?;
    println!(
        "policy version {} is in force (applied from the server's shell, audited as cli)",
        applied.version
    );
    Ok(())
}

const DEFAULT_DATABASE_URL: &str = "sqlite://passage.db";
const DEMO_DATABASE_URL: &str = "sqlite://passage-demo.db";

async fn demo(db: Db, mut config: Config) -> Result<(), Failure> {
    // A trial: nobody must set up a second factor first (anyone may, on the pages).
    config.second_factor = passage::config::SecondFactor::Optional;
    let accounts = passage::demo::fill(&db, SystemClock.now(), &config.base_url).await?;
    println!(
        "Passage demo: a small coalition in {}",
        passage::store::redact_url(&config.database_url)
    );
    println!(
        "Open {}/ and sign in as:",
        config.base_url.trim_end_matches('/')
    );
    for a in &accounts {
        println!(
            "  {:<11} {}  {:<26} {}",
            a.roles.to_list(),
            a.language,
            a.email,
            a.password
        );
    }
    println!(
        "These passwords are printed once and stored only as argon2 hashes. Stop with Ctrl-C; \
         the data stays in the file, and `passage demo` refuses to fill it twice."
    );
    println!(
        "The demo runs with PASSAGE_SECOND_FACTOR=optional: the email and password are enough \
         to sign in, also for treasurers and admins (a real fund requires their second factor; \
         anyone may set one up under Sessions → Second factor)."
    );
    let state = AppState::new(db, Arc::new(SystemClock), Arc::new(config));
    app::serve(state, app::shutdown_signal())
        .await
        .map_err(Failure::from)
}

/// Writes the export to `output` (through a `.partial` file renamed at the end, so a
/// failed export never leaves a file that looks whole) or to standard output.
async fn export(db: &Db, format: Format, output: Option<&Path>) -> Result<(), Failure> {
    use tokio::io::AsyncWriteExt;

    let export = Export::begin(db, format, SystemClock.now()).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let writer = tokio::spawn(async move { export.write(&sender).await });
    let partial = output.map(|path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    });
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &partial {
        Some(path) => Box::new(tokio::io::BufWriter::new(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(tokio::io::stdout()),
    };
    // How much is written so far, on a terminal: the export's own work is left as it is.
    let progress = Progress::terminal("export", Unit::Bytes);
    progress.step(format.as_str());
    let written = async {
        while let Some(chunk) = receiver.recv().await {
            let chunk = chunk?;
            sink.write_all(chunk.as_bytes()).await?;
            progress.advance(chunk.len() as u64);
        }
        sink.flush().await?;
        Ok::<_, Failure>(())
    }
    .await;
    drop(progress);
    // Dropping the receiver stops the writer at its next chunk when writing failed.
    drop(receiver);
    let summary = writer
        .await
        .map_err(|e| format!("the export stopped: {e}"))?;
    let outcome = written.and_then(|()| summary.map_err(Failure::from));
    match (outcome, &partial, output) {
        (Ok(summary), Some(partial), Some(path)) => {
            tokio::fs::rename(partial, path)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "exported {} transfers as {} to {}",
                summary.transfers,
                format.as_str(),
                path.display()
            );
            Ok(())
        }
        (Ok(_), _, _) => Ok(()),
        (Err(e), partial, _) => {
            if let Some(partial) = partial {
                let _ = tokio::fs::remove_file(partial).await;
            }
            Err(e)
        }
    }
}

async fn run(command: Command, mut config: Config) -> Result<(), Failure> {
    if matches!(command, Command::Demo)
        && std::env::var_os("PASSAGE_DATABASE_URL").is_none()
        && config.database_url == DEFAULT_DATABASE_URL
    {
        // The demo never lands in the database a real fund would use by default.
        config.database_url = DEMO_DATABASE_URL.into();
    }
    match command {
        Command::Backup { output } => {
            let recipient = passage::backup::recipient(config.backup_recipient.as_deref())?;
            let size = passage::backup::backup(&config.database_url, &recipient, &output).await?;
            println!(
                "backed up {} to {} ({size} bytes, encrypted to {})",
                passage::store::redact_url(&config.database_url),
                output.display(),
                recipient
            );
            Ok(())
        }
        Command::Restore {
            input,
            identity,
            database_url,
            replace,
        } => {
            let r = passage::backup::restore(&input, &identity, &database_url, replace).await?;
            let last = r
                .last_event_at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "none".to_string());
            println!(
                "restored {} into {}: audit chain ok ({} events, head {}), last event at {last}, ledger ok, schema version {}",
                input.display(),
                passage::store::redact_url(&database_url),
                r.events,
                r.head,
                r.schema_version
            );
            Ok(())
        }
        command => run_on_database(command, config).await,
    }
}

async fn run_on_database(command: Command, config: Config) -> Result<(), Failure> {
    let db = open(&config, matches!(command, Command::Serve | Command::Demo)).await?;
    let result = match command {
        Command::Backup { .. } | Command::Restore { .. } => Ok(()),
        Command::Serve => {
            let state = AppState::new(db.clone(), Arc::new(SystemClock), Arc::new(config));
            app::serve(state, app::shutdown_signal())
                .await
                .map_err(Failure::from)
        }
        Command::Demo => demo(db.clone(), config).await,
        Command::Migrate => {
            println!("the database is migrated");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let progress = Progress::terminal("audit verify", Unit::Count("events"));
            let v = audit::verify_with_progress(&db, &progress).await?;
            drop(progress);
            match v.broken {
                None => {
                    println!("audit chain ok: {} events, head {}", v.events, v.head);
                    Ok(())
                }
                Some(link) => Err(Failure {
                    message: format!("audit chain broken at event {}: {}", link.seq, link.problem),
                    code: 1,
                }),
            }
        }
        Command::Export { format, output } => export(&db, format, output.as_deref()).await,
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    roles,
                    org,
                    name,
                    language,
                    password_stdin: _,
                },
        } => add_user(&db, email, roles, org, name, language).await,
        Command::Org {
            command:
                OrgCommand::Add {
                    name,
                    org_type,
                    province,
                },
        } => {
            let org_type: OrgType = org_type.parse()?;
            let province = Province::parse(&province).map_err(|e| format!("--province {e}"))?;
            let new = orgs::NewOrg::new(&name, org_type, province)?;
            let org = orgs::create(&db, SystemClock.now(), &Actor::cli(), &new).await?;
            println!("{}", org.id);
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let kid = keys::rotate(&db, &config, SystemClock.now(), &Actor::cli()).await?;
            println!(
                "new signing key {kid}: new tokens are signed with it; tokens signed with older keys stay valid until they expire or their key is retired (`passage keys retire KID`)"
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Retire { kid },
        } => {
            match keys::retire(&db, &config, SystemClock.now(), &Actor::cli(), &kid).await? {
                keys::Retirement::Retired { signing: None } => {
                    println!("key {kid} retired: the tokens it signed no longer open anything")
                }
                keys::Retirement::Retired { signing: Some(new) } => println!(
                    "key {kid} retired: the tokens it signed no longer open anything; it was the key that signs, so new signing key {new} signs from now on"
                ),
                keys::Retirement::Already(at) => println!(
                    "key {kid} was already retired on {}: nothing changed",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List,
        } => {
            let stored = keys::list(&db).await?;
            if config.jwt_secret.is_some() {
                println!(
                    "{}\tsigns and verifies (PASSAGE_JWT_SECRET or PASSAGE_JWT_KEY_FILE)",
                    keys::CONFIG_KID
                );
            }
            let signing = stored
                .iter()
                .rev()
                .find(|k| k.retired_at.is_none())
                .map(|k| k.kid.clone());
            let when = |at: chrono::DateTime<chrono::Utc>| {
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            for key in &stored {
                let does = match (key.retired_at, config.jwt_secret.is_some()) {
                    (Some(at), _) => format!("retired {}", when(at)),
                    (None, true) => "verifies nothing (a secret is configured)".to_string(),
                    (None, false) if Some(&key.kid) == signing.as_ref() => {
                        "signs and verifies".to_string()
                    }
                    (None, false) => "verifies".to_string(),
                };
                println!("{}\tcreated {}\t{does}", key.kid, when(key.created_at));
            }
            if stored.is_empty() && config.jwt_secret.is_none() {
                println!("no signing key yet: one is made on first start");
            }
            Ok(())
        }
        Command::Policy {
            command: PolicyCommand::Apply { file },
        } => apply_policy(&db, &file).await,
        Command::Reports {
            command: ReportsCommand::Send,
        } => {
            let sent =
                reports::send::send_unsent(&db, &config, SystemClock.now(), &Actor::cli()).await?;
            for (id, outcome) in &sent {
                println!(
                    "report {id}: {} emails queued, {} donors had it already, {} unsubscribed",
                    outcome.queued, outcome.already_queued, outcome.unsubscribed
                );
            }
            if sent.is_empty() {
                println!("no sealed report waits to be sent");
            }
            Ok(())
        }
        Command::Reports {
            command: ReportsCommand::Preview { start, end },
        } => {
            let now = SystemClock.now();
            let period = reports::Period::new(start, end, now.date_naive())
                .map_err(|(field, e)| format!("{field} {e}"))?;
            let built =
                reports::lifecycle::preview(&db, period, now, config.report_min_cell).await?;
            println!("{}", serde_json::to_string_pretty(&built.summary)?);
            for w in &built.warnings {
                eprintln!("warning: {w}");
            }
            Ok(())
        }
        Command::Reports {
            command: ReportsCommand::Verify {
                file: Some(file), ..
            },
        } => verify_summary_file(&db, &file).await,
        Command::Reports {
            command: ReportsCommand::Verify { id, .. },
        } => {
            let id = id.unwrap_or_default();
            let id = uuid::Uuid::parse_str(id.trim())
                .map_err(|_| format!("{id:?} is not a report id"))?
                .to_string();
            let v = reports::lifecycle::verify(&db, &id).await?;
            println!("report {} ({})", v.id, v.status);
            println!("stored hash      {}", v.hash);
            if let Some(recomputed) = &v.recomputed_hash {
                println!("recomputed hash  {recomputed}");
            }
            if let (Some(kept), Some(now)) = (&v.ledger_digest, &v.recomputed_ledger_digest) {
                println!("ledger digest    {kept}");
                println!("recomputed       {now}");
            }
            if let Some(note) = &v.note {
                println!("note: {note}");
            }
            if v.matches {
                println!(
                    "ok: the report still matches the ledger (its stored summary is the one that was hashed{})",
                    if v.method == "recomputed" {
                        ", and recomputing it gives the same hash"
                    } else {
                        ", and the ledger entries it covers are those it was frozen with"
                    }
                );
                Ok(())
            } else {
                let mut why = Vec::new();
                if !v.stored_summary_intact {
                    why.push("its stored summary was changed".to_string());
                }
                if !v.books_match {
                    why.push(if v.method == "recomputed" {
                        format!(
                            "the ledger gives other figures ({})",
                            v.differences.join(", ")
                        )
                    } else {
                        "the ledger entries it covers were changed since it was frozen".to_string()
                    });
                }
                if !v.audit_head_intact && v.method != "recomputed" {
                    why.push("the audit event it names was changed".to_string());
                }
                Err(Failure {
                    message: format!("report {} no longer matches: {}", v.id, why.join("; ")),
                    code: 1,
                })
            }
        }
        Command::Ledger {
            command: LedgerCommand::Check,
        } => {
            let progress = Progress::terminal("ledger check", Unit::Count(""));
            let check = ledger::check_with_progress(&db, &progress).await?;
            drop(progress);
            for a in &check.accounts {
                println!(
                    "{:<12} debits pending {:>12} posted {:>12}  credits pending {:>12} posted {:>12}",
                    a.id,
                    passage::domain::money::format_cents(a.debits_pending),
                    passage::domain::money::format_cents(a.debits_posted),
                    passage::domain::money::format_cents(a.credits_pending),
                    passage::domain::money::format_cents(a.credits_posted),
                );
            }
            let f = &check.figures;
            let money = passage::domain::money::format_cents;
            println!(
                "bank {} = available {} + held {} + owed {} + to_replenish {}",
                money(f.bank),
                money(f.available),
                money(f.held),
                money(f.owed),
                money(f.to_replenish)
            );
            println!(
                "donated {} + other_income {} - fees {} = bank {} + advanced {} + spent {} - owed {}; paid out {}",
                money(f.donated),
                money(f.other_income),
                money(f.fees),
                money(f.bank),
                money(f.advanced),
                money(f.spent),
                money(f.owed),
                money(f.paid_out)
            );
            if check.ok {
                println!(
                    "ledger ok: every cached balance equals the balance derived from the transfers, the fund's two identities hold, and every case's per-day totals equal its requests (checked at {})",
                    SystemClock.now()
                );
                Ok(())
            } else {
                Err(Failure {
                    message: format!("ledger check failed: {}", check.problems.join("; ")),
                    code: 1,
                })
            }
        }
    };
    db.close().await;
    result
}
