//! How a route is declared: once, in its own file, as its operation (the
//! handler and its `#[utoipa::path]`, collected by `utoipa_axum::routes!`)
//! and who may call it. The router and the OpenAPI document are both built
//! from these declarations (`router.rs`), so a path is written in one place.
use utoipa_axum::router::UtoipaMethodRouter;

use crate::state::AppState;

/// Who may call a route, and so which middleware guards it and which
/// responses the document adds to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Access {
    /// An API key (`intake.api_keys`): the calling client's own uploads,
    /// jobs and end users.
    Client,
    /// An operator key (`intake.operator_keys`): every client's jobs and
    /// the queues.
    Operator,
    /// No key, but limited per client address (`intake.per_address_*`):
    /// end users' sockets and signed object reads.
    Address,
    /// No key and no bounds: probes must answer when the process is
    /// busiest.
    Probe,
    /// A probe that moves to `intake.metrics_listen` when one is set.
    Metrics,
}

impl Access {
    pub(crate) const ALL: [Access; 5] = [
        Access::Client,
        Access::Operator,
        Access::Address,
        Access::Probe,
        Access::Metrics,
    ];

    /// Whether `intake.max_in_flight` and `intake.request_timeout` bound
    /// the route (`503 intake.busy`, `408 request.timeout`).
    pub(crate) fn bounded(self) -> bool {
        !matches!(self, Access::Probe | Access::Metrics)
    }
}

/// One operation of the API.
pub(crate) struct Route {
    pub(crate) access: Access,
    pub(crate) operation: UtoipaMethodRouter<AppState>,
    /// The path axum matches when it differs from the documented one (a
    /// key that may hold `/` is one parameter in the document and a
    /// wildcard for axum).
    pub(crate) matched: Option<&'static str>,
}

impl Route {
    pub(crate) fn new(access: Access, operation: UtoipaMethodRouter<AppState>) -> Route {
        Route {
            access,
            operation,
            matched: None,
        }
    }

    /// Match `path` instead of the documented path.
    pub(crate) fn matching(mut self, path: &'static str) -> Route {
        self.matched = Some(path);
        self
    }

    /// The documented path (one per route).
    pub(crate) fn path(&self) -> &str {
        self.operation
            .1
            .paths
            .keys()
            .next()
            .map(String::as_str)
            .expect("an operation has a path")
    }
}
