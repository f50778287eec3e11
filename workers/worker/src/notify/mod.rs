//! Notifications about jobs.
pub mod email;
