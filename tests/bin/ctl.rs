fn main() -> anyhow::Result<()> {
    atelier_ctl::main()
}
