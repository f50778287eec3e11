//! Test-only handlers (`worker.test_kinds`), exercising the runtime itself.
pub mod staged;
