//! Photo handlers.
pub mod ingest;
