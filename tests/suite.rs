//! The end-to-end tests, one module per area, built as one test binary
//! (`cargo test -p atelier-tests --test suite <area>::` runs one area).
mod abuse;
mod architecture;
mod avatar;
mod bad_inputs;
mod cluster;
mod console;
mod contract;
mod crash_safety;
mod deploy;
mod end_to_end;
mod events;
mod flows;
mod metrics;
mod notify;
mod operations;
mod outages;
mod people;
mod queue;
mod render;
mod runtime;
mod vision;
