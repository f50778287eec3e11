// `sqlx::migrate!` embeds the migrations at compile time: rebuild when one
// changes, not only when this crate's sources do.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
