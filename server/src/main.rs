//! `portal`: wires settings, logging and the command line; everything else is in the library.

use clap::Parser;
use server::cli::{self, Cli};
use tracing_subscriber::{EnvFilter, fmt};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match portal_core::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(cli::EXIT_CONFIG);
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(server::DEFAULT_LOG_FILTER));
    if settings.log_json {
        fmt().json().with_env_filter(filter).init();
    } else {
        fmt().with_env_filter(filter).init();
    }
    std::process::exit(cli::run(cli, settings).await);
}
