//! Postgres: the only crate that writes SQL. Queries are checked at compile
//! time against the migrations (`.sqlx/` holds the offline cache, so building
//! needs no database).
#![forbid(unsafe_code)]

pub mod photos;
pub mod uploads;

pub mod avatars;
pub mod console;
pub mod emails;
pub mod embeddings;
pub mod events;
pub mod flows;
pub mod history;
pub mod jobs;
pub mod stages;
pub use jobs::{Fence, JobRow, NewJob, Submission};
pub use photos::PhotoRow;
/// The connection pool every caller holds; re-exported so no other crate needs sqlx.
pub use sqlx::PgPool;
pub use uploads::{NewUpload, UploadRow};

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Database failures, split by what a caller should do about them.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Connection lost, pool exhausted, server restarting: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else: a bug or a broken schema.
    #[error("database: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The write was fenced off: the job's row is no longer held by the
    /// caller's lease (another run took the job over, or it was cancelled
    /// or dead-lettered meanwhile). Nothing was written.
    #[error("stale lease: the job is no longer this run's")]
    Stale,
    /// A row holds a value this release has no name for (a status, kind or
    /// code written by another release, or by hand).
    #[error("{table} row {id}: {column} {value:?} is not one this release knows")]
    Unreadable {
        table: &'static str,
        id: String,
        column: String,
        value: String,
    },
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => DbError::Unavailable(e),
            sqlx::Error::Database(ref d)
                if d.code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                DbError::Unavailable(e)
            }
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    pub fn is_transient(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// The embedded migrations in `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Connect, creating the database when it does not exist yet, and optionally
/// apply pending migrations.
pub async fn connect(url: &str, max_connections: u32, migrate: bool) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::Query)?
        .log_statements(tracing::log::LevelFilter::Trace);
    create_database_if_missing(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await?;
    if migrate {
        MIGRATOR.run(&pool).await?;
    }
    Ok(pool)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), DbError> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let admin = options.clone().database("postgres");
    let mut conn = admin.connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        // Two processes may race to create it; the loser's error is harmless.
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut conn)
            .await
        {
            tracing::debug!(error = %e, "create database raced");
        }
    }
    Ok(())
}

/// Cheap liveness check for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// Drop a database (tests clean up after themselves).
pub async fn drop_database(admin: &PgPool, name: &str) -> Result<(), DbError> {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"
    )))
    .execute(admin)
    .await?;
    Ok(())
}
