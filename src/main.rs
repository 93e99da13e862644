//! The `bigyo` binary: parses the command line, sets up file logging, hands off to [`cli`].
use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    let args = cli::parse();
    let _log = init_logging();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("bigyo: {}", cli::flagged(&err));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to `<cache>/logs/bigyo.log`, never to the terminal (the TUI owns it).
/// `BIGYO_LOG` sets the filter (default `info`).
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = bigyo::paths::log_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "bigyo.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("BIGYO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
