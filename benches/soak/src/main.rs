//! `sockless-soak`: runs the soak and attack suite against `sockless serve`.
//!
//! ```text
//! sockless-soak [--long] [--driver tokio|smol|async-std]... [--only NAME]... [--server PATH]
//! sockless-soak serve ...        # exactly `sockless serve ...` (the suite's server)
//! ```

use sockless_examples::cli::{args, serve};
use sockless_soak::{run, scenarios, Ctx, DRIVERS, SCENARIOS};

const USAGE: &str =
    "usage: sockless-soak [--long] [--driver tokio|smol|async-std]... [--only SCENARIO]... [--server PATH]
       sockless-soak serve ...   (the same as `sockless serve ...`)";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("serve") {
        // The server under test, started by the suite as a child process with
        // a pipe for stdin: when the suite ends, however it ends, the pipe
        // closes and the server goes with it instead of lingering.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        let result = match args::parse(&argv) {
            Ok(args::Command::Serve(a)) => serve::run(a),
            Ok(_) => unreachable!("`serve` parses as Command::Serve"),
            Err(f) => Err(f),
        };
        if let Err(f) = result {
            eprintln!("sockless-soak serve: {}", f.message);
            std::process::exit(f.code);
        }
        return;
    }
    let mut long = false;
    let mut drivers: Vec<&'static str> = Vec::new();
    let mut only: Vec<String> = Vec::new();
    let mut server_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => fail(&format!("current_exe: {e}")),
    };
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--long" => long = true,
            "--driver" => {
                let d = it.next().unwrap_or_default();
                match DRIVERS.iter().find(|x| **x == d) {
                    Some(x) => drivers.push(x),
                    None => fail(&format!("unknown driver {d:?}")),
                }
            }
            "--only" => {
                let name = it.next().unwrap_or_default();
                if scenarios::find(&name).is_none() {
                    let names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
                    fail(&format!("unknown scenario {name:?}; scenarios: {}", names.join(", ")));
                }
                only.push(name);
            }
            "--server" => server_exe = it.next().unwrap_or_default().into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown option {other}")),
        }
    }
    if drivers.is_empty() {
        drivers = DRIVERS.to_vec();
    }
    let mut broken = Vec::new();
    for scenario in SCENARIOS.iter().filter(|s| only.is_empty() || only.iter().any(|o| o == s.name)) {
        for driver in &drivers {
            let ctx = Ctx { server_exe: server_exe.clone(), driver, long };
            let report = run(&ctx, scenario);
            broken.extend(report.broken.iter().map(|b| format!("{}: {b}", report.name)));
        }
    }
    if broken.is_empty() {
        println!("all bounds held");
    } else {
        println!("\n{} broken:", broken.len());
        for b in &broken {
            println!("  {b}");
        }
        std::process::exit(1);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("sockless-soak: {msg}\n{USAGE}");
    std::process::exit(2);
}
