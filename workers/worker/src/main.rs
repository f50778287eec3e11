//! `atelier-worker`: runs jobs from the queues named by config or flags.
fn main() -> anyhow::Result<()> {
    atelier_worker::cli::main()
}
