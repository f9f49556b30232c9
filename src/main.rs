//! The `traceledger` binary: parses the command line, runs it, maps the outcome to an exit
//! code (0 ok, 1 integrity failure, 2 bad input or usage, 3 I/O or environment).

mod cli;

/// mimalloc: parsing and validating JSON is allocation-heavy, and this allocator made the
/// per-event work about a quarter faster than the system one (measured on 100,000 events).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::from(cli::EXIT_OK),
        Err(error) => {
            if !error.is_broken_pipe() {
                let mut message = format!("traceledger: {error}");
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    // thiserror's `{0}` already shows a wrapped error's text; print each once.
                    let text = cause.to_string();
                    if !message.contains(&text) {
                        message.push_str(&format!(": {text}"));
                    }
                    source = cause.source();
                }
                eprintln!("{message}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}
