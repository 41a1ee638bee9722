//! The portal's HTTP server: axum routes, the Leptos pages, and the protections every page
//! inherits. [`Application::build`] binds (port 0 in tests) and [`Application::run_until_stopped`]
//! serves until SIGINT/SIGTERM, with the mail outbox worker running beside it.

mod api;
mod assets;
pub mod cli;
mod http_guard;
mod metrics;
pub mod page_cache;
pub use api::API_BODY_LIMIT;
pub use http_guard::BODY_LIMIT;
mod routes;

use std::{net::SocketAddr, sync::Arc};

use app::{App, shell};
use axum::{Router, extract::FromRef};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use portal_core::{Portal, Settings, config::ConfigError, mail::Transport};
use tokio::{net::TcpListener, sync::watch};

/// The log filter used unless `RUST_LOG` says otherwise. Library internals stay at `warn`: some
/// (SQL statements, SMTP dialogue) would carry personal values at lower levels.
pub const DEFAULT_LOG_FILTER: &str =
    "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,lettre=warn,hyper=warn";

/// Why the server could not start; `Display` is one line naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("configuration error: DATABASE_URL: cannot open or migrate the database ({0})")]
    Database(String),
    /// The master key does not open this database's keys.
    #[error(
        "configuration error: PORTAL_MASTER_KEY: does not open this database's keys (they were made with master key {0})"
    )]
    WrongMasterKey(String),
    /// The listening address could not be bound.
    #[error("configuration error: LEPTOS_SITE_ADDR: cannot listen on {addr} ({source})")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The metrics address could not be bound.
    #[error("configuration error: PORTAL_METRICS_ADDR: cannot listen on {addr} ({source})")]
    BindMetrics {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// State shared by every route and server function.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Leptos' own options (site root, output name).
    pub leptos_options: LeptosOptions,
    /// The domain handle.
    pub portal: Portal,
    /// The consent API's per-key limit (this process's share).
    pub api_limiter: Arc<api::ApiLimiter>,
}

impl StartError {
    /// Sorts a failure to open the portal into the setting to blame.
    pub fn from_core(e: portal_core::CoreError) -> Self {
        match e {
            portal_core::CoreError::Config(c) => Self::Config(c),
            portal_core::CoreError::WrongMasterKey { expected } => Self::WrongMasterKey(expected),
            other => Self::Database(other.to_string()),
        }
    }
}

/// A built, bound, not yet serving portal.
pub struct Application {
    listener: TcpListener,
    router: Router,
    portal: Portal,
    transport: Transport,
    /// The operators' metrics listener, when `PORTAL_METRICS_ADDR` asks for one.
    metrics: Option<(TcpListener, Router)>,
}

impl Application {
    /// Opens the database (migrating it), builds the routes and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let transport = Transport::from_settings(&settings)?;
        if let Some(parent) = sqlite_parent(&settings.database_url) {
            portal_core::db::create_private_dir(parent).map_err(|e| {
                StartError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let addr = settings.site_addr;
        let portal = Portal::open(settings)
            .await
            .map_err(StartError::from_core)?;
        let router = router(portal.clone());
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        // The recorder is installed only when asked for: until then counting costs nothing.
        let metrics = match portal
            .settings
            .metrics_addr
            .map(|a| (a, metrics::install()))
        {
            Some((addr, Some(handle))) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::BindMetrics { addr, source })?;
                Some((listener, metrics::router(portal.clone(), handle)))
            }
            _ => None,
        };
        Ok(Self {
            listener,
            router,
            portal,
            transport,
            metrics,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The port of the metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    /// The domain handle, for commands and tests.
    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    /// Serves until SIGINT or SIGTERM; the outbox worker stops with the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (tx, rx) = watch::channel(false);
        let worker = tokio::spawn(portal_core::mail::run_worker(
            self.portal.clone(),
            self.transport,
            rx.clone(),
        ));
        let fulfilment = tokio::spawn(portal_core::requests::fulfil::run(
            self.portal.clone(),
            rx.clone(),
        ));
        let backups = self.portal.settings.backup_dir.clone().map(|dir| {
            tokio::spawn(portal_core::backup::run_schedule(
                self.portal.clone(),
                dir,
                rx,
            ))
        });
        // On the signal: say "not ready" for the drain time while still serving, then stop
        // taking connections and finish the requests in flight.
        let stop = {
            let portal = self.portal.clone();
            async move {
                stop.await;
                portal.begin_draining();
                tracing::info!(
                    drain_ms = portal.settings.drain.as_millis() as u64,
                    "draining before shutdown"
                );
                tokio::time::sleep(portal.settings.drain).await;
            }
        };
        // Metrics answer until the portal has stopped, so a scrape sees the drain.
        let metrics = self.metrics.map(|(listener, router)| {
            let mut done = tx.subscribe();
            tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = done.wait_for(|stopped| *stopped).await;
                    })
                    .await;
            })
        });
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await;
        let _ = tx.send(true);
        let _ = worker.await;
        let _ = fulfilment.await;
        if let Some(b) = backups {
            let _ = b.await;
        }
        if let Some(m) = metrics {
            let _ = m.await;
        }
        served
    }
}

/// The folder an SQLite URL points into, so it can be created on first run.
fn sqlite_parent(url: &str) -> Option<&std::path::Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

/// Every route of the portal with its protections.
pub fn router(portal: Portal) -> Router {
    let settings = Arc::clone(&portal.settings);
    let leptos_options = LeptosOptions::builder()
        .output_name("portal")
        .site_root(settings.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(settings.site_addr)
        // cargo-leptos' `hash-files` names the built assets after their content and writes the
        // names to hash.txt beside the binary; pages then link those names, which may be cached
        // for a year (assets::serve). Without the file (a test binary), the plain names.
        .hash_files(assets::hash_file_present())
        .build();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        portal: portal.clone(),
        api_limiter: Arc::new(api::ApiLimiter::new(settings.api_calls_per_minute)),
    };
    let api = http_guard::apply_api(
        api::routes().with_state(state.clone()),
        Arc::clone(&settings),
    );
    let routes = page_routes();
    let context = {
        let portal = portal.clone();
        move || {
            provide_context(portal.clone());
        }
    };
    let router = Router::new()
        .merge(routes::plain_routes())
        .nest_service("/pkg", assets::pkg_service(&settings.site_root))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .with_state(state);
    let cache = page_cache::PageCache::default();
    let mine = page_cache::MyPages::default();
    let page_timeout = settings.page_timeout;
    {
        // A portal gone quiet keeps no customer's page in memory past its time either. The
        // task holds the cache weakly, and ends with the router.
        let weak = mine.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(page_cache::MY_TTL);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(cache) => cache.sweep(),
                    None => break,
                }
            }
        });
    }
    let router = router
        .layer(axum::middleware::from_fn({
            let portal = portal.clone();
            move |req, next| page_cache::serve_mine(mine.clone(), portal.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn(
            app::identity::remember_identities,
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            page_cache::serve(cache.clone(), portal.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            http_guard::time_limit(page_timeout, req, next)
        }));
    http_guard::apply(router, settings)
        .merge(api)
        .layer(axum::middleware::from_fn(metrics::track))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// The page routes, generated once per process. Generating them renders the app with resource
/// loading switched off by a process-wide flag (leptos_server's `SuppressResourceLoad`), and a
/// page that another portal of the same process starts rendering meanwhile waits forever
/// (leptos #4773). The server builds one portal per process, before it serves; the tests start
/// many side by side, which is how a `GET /me` and a `GET /privacy` once never answered.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}
