//! The `sockless` command: `serve`, `get`, `bench` and `demo`. See `sockless --help`.

use sockless_examples::cli::{args, bench, demo, get, serve};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match args::parse(&argv) {
        Ok(args::Command::Serve(a)) => serve::run(a),
        Ok(args::Command::Get(a)) => get::run(a),
        Ok(args::Command::Bench(a)) => bench::run(a),
        Ok(args::Command::Demo) => demo::run(),
        Err(f) if f.code == 0 => {
            println!("{}", f.message);
            return;
        }
        Err(f) => Err(f),
    };
    if let Err(f) = result {
        eprintln!("sockless: {}", f.message);
        std::process::exit(f.code);
    }
}
