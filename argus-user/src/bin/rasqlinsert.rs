//! rasqlinsert: being built for issue 7 (docs/architecture.md lists what exists).

fn main() {
    eprintln!("rasqlinsert: not built yet (issue 7)");
    std::process::exit(2);
}
