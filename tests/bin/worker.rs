fn main() -> anyhow::Result<()> {
    atelier_worker::cli::main()
}
