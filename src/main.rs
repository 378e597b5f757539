use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use passage::app::{self, AppState};
use passage::clock::{Clock, SystemClock};
use passage::config::Config;
use passage::store::Db;
use passage::{audit, ledger};

/// Passage: a pooled emergency fund for organisations that help people leaving human
/// trafficking. Every command reads the same configuration (PASSAGE_* variables, or a
/// TOML file named by PASSAGE_CONFIG); see README.md.
#[derive(Parser)]
#[command(name = "passage", version, about, long_about = None, after_help = settings_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API on PASSAGE_BIND until SIGINT or SIGTERM.
    Serve,
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

fn settings_help() -> String {
    let mut help = String::from("Settings (environment, with defaults):\n");
    for (name, default) in Config::defaults() {
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

async fn open(config: &Config) -> Result<Db, Failure> {
    let db = Db::connect(&config.database_url, config.db_max_connections).await?;
    db.migrate().await?;
    Ok(db)
}

async fn run(command: Command, config: Config) -> Result<(), Failure> {
    let db = open(&config).await?;
    let result = match command {
        Command::Serve => {
            let state = AppState {
                db: db.clone(),
                clock: Arc::new(SystemClock),
                config: Arc::new(config),
            };
            app::serve(state, app::shutdown_signal())
                .await
                .map_err(Failure::from)
        }
        Command::Migrate => {
            println!("the database is migrated");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let v = audit::verify(&db).await?;
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
        Command::Ledger {
            command: LedgerCommand::Check,
        } => {
            let check = ledger::check(&db).await?;
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
            if check.ok {
                println!(
                    "ledger ok: every cached balance equals the balance derived from the transfers (checked at {})",
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
