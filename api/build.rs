//! The askama templates are read by a procedural macro, which cargo does
//! not see: rebuild this crate whenever one of them changes, so that no
//! binary ever serves a page from an older template.

fn main() {
    println!("cargo:rerun-if-changed=templates");
}
