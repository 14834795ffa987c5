//! The `rivus` binary: command line, logging, signals. Everything else lives in the library
//! crates (`rivus-engine` holds the data, `rivus-server` speaks the Milvus protocol).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rivus_engine::{Engine, EngineConfig, SyncPolicy};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "rivus",
    version,
    about = "A vector database that speaks the Milvus protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server on a local data directory.
    Serve {
        /// Where the data lives; created if missing. One server per directory.
        #[arg(long, default_value = "./rivus-data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (Milvus's default is 19530; 0 picks a free port).
        #[arg(long, default_value_t = 19530)]
        port: u16,
        /// When data writes reach the disk: `always` syncs (fdatasync, group commit) before
        /// acknowledging, surviving power loss; `os` hands them to the OS, surviving a crash
        /// of rivus (`kill -9`) but not of the machine.
        #[arg(long, default_value = "always", value_parser = ["always", "os"])]
        wal_sync: String,
    },
}

/// How long a shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("RIVUS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data_dir,
            host,
            port,
            wal_sync,
        } => match serve(data_dir, &host, port, &wal_sync) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                tracing::error!("{message}");
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(data_dir: PathBuf, host: &str, port: u16, wal_sync: &str) -> Result<(), String> {
    let mut config = EngineConfig::new(&data_dir);
    config.wal_sync = if wal_sync == "os" {
        SyncPolicy::Never
    } else {
        SyncPolicy::Always
    };
    let engine = Engine::open(config).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rivus-rpc")
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let addr: SocketAddr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host}:{port} resolves to no address"))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(data_dir = %data_dir.display(), "rivus listening on {local}");
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        let signalled = stop.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            signalled.notify_waiters();
        });
        let draining = stop.clone();
        let server = rivus_server::serve(engine.clone(), listener, async move {
            draining.notified().await;
        });
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result.map_err(|e| e.to_string())?,
            () = async {
                stop.notified().await;
                // In-flight requests get this long to finish; clients that keep idle
                // connections open do not hold the shutdown hostage.
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"),
        }
        tracing::info!("rivus shut down cleanly");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
