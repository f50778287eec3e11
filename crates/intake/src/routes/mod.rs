//! The routes, one file per area; each declares its operations once
//! (`routes()`), and `router.rs` gathers them.
pub(crate) mod events;
pub(crate) mod flows;
pub(crate) mod jobs;
pub(crate) mod objects;
pub(crate) mod ops;
pub(crate) mod queues;
pub(crate) mod search;
pub(crate) mod uploads;
