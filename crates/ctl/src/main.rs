//! `atelier-ctl`: the operator CLI.
fn main() -> anyhow::Result<()> {
    atelier_ctl::main()
}
