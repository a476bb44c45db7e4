//! The `warden` command line: `serve`, `migrate`, `verify`, `export`, `keys`, `kms`,
//! `import`, `archive`, `legal-hold`, `users`, `alerting`.

mod alerting;
mod archive;
mod export;
mod import;
mod keys;
mod kms;
mod legal_hold;
mod migrate;
mod users;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, Settings};

#[derive(Debug, Parser)]
#[command(name = "warden", version, about = "Warden: audit-first authentication service")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (the default).
    Serve,
    /// Run the alert evaluator alone (with `alert_evaluator = "separate"`
    /// for the servers), against the configured log and bus.
    Alerting,
    /// Apply (or with --down, revert) the database migrations.
    Migrate(migrate::MigrateArgs),
    /// Verify the chain of the configured log or of an exported file.
    Verify(verify::VerifyArgs),
    /// Export a range of events as JSON Lines.
    Export(export::ExportArgs),
    /// Import users, orgs and password hashes from a legacy PostgreSQL table
    /// (or revert an import).
    Import(import::ImportArgs),
    /// List or rotate the chain's signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Show or rotate the KMS key that wraps the data and signing keys.
    #[command(subcommand)]
    Kms(kms::KmsCommand),
    /// Move the oldest events of the PostgreSQL log to a signed bundle and
    /// remove their partitions (retention).
    Archive(archive::ArchiveArgs),
    /// Place, release or list legal holds (they block archiving).
    #[command(subcommand, alias = "hold")]
    LegalHold(legal_hold::LegalHoldCommand),
    /// Account recovery by the operator: `users recover --email …` prints
    /// a one-time password-reset link (break-glass).
    #[command(subcommand)]
    Users(users::UsersCommand),
}

pub async fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(&cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("warden: configuration refused: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let metrics = crate::server::install_metrics();
            crate::server::serve(config, metrics)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.to_string())
        }
        Command::Alerting => alerting::run(&config).await,
        Command::Migrate(args) => migrate::run(&config, args).await,
        Command::Verify(args) => verify::run(&config, args).await,
        Command::Export(args) => export::run(&config, args).await,
        Command::Keys(command) => keys::run(&config, command).await,
        Command::Kms(command) => kms::run(&config, command).await,
        Command::Import(args) => import::run(&config, args).await,
        Command::Archive(args) => archive::run(&config, args).await,
        Command::LegalHold(command) => legal_hold::run(&config, command).await,
        Command::Users(command) => users::run(&config, command).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("warden: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WARDEN_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn"));
    // Colours only for a terminal: log files and collectors get plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}

/// The read models of the configured log, caught up, for commands that
/// only read: nothing is created, migrated or appended.
pub(crate) async fn read_models(config: &Config) -> Result<warden_projections::ReadModels, String> {
    let store = crate::node::open_existing_store(config)
        .await
        .map_err(|e| e.to_string())?;
    let models = warden_projections::ReadModels::default();
    let bus = std::sync::Arc::new(warden_core::bus::local::LocalBus::default());
    let (mut runner, _) = warden_projections::Runner::restore(store, bus, &models)
        .await
        .map_err(|e| e.to_string())?;
    runner.catch_up().await.map_err(|e| e.to_string())?;
    Ok(models)
}

/// Writes a line to standard output (the CLI's result channel).
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
