//! kharness: runs the real carp.ko inside a Linux process that plays the FreeBSD 15 kernel.
//!
//! ```text
//! kharness [--ko build/carp.ko] [--out DIR] [--fault N] [--verbose] SCRIPT
//! kharness --check-load FILE          load and unload only; exit 0 if the kernel takes it
//! kharness --count-faults SCRIPT      run, then print how many fallible allocations the
//!                                     module made (for fault injection)
//! ```
//! Exit status: 0 when the script passed (every expectation, every kernel check, nothing
//! left after teardown), 1 when it failed, 2 on usage errors, 3 on a fatal condition (a
//! fault inside the module, a deadlock), reported with the module's symbol+offset.

mod frames;
mod fuzz;
mod host;
mod kapi;
mod live;
mod loader;
mod nl;
mod sched;
mod script;
mod userland;

use clap::Parser;

#[derive(Parser)]
#[command(name = "kharness", about = "Runs the real carp.ko in a simulated FreeBSD 15 kernel")]
struct Args {
    /// The module to test.
    #[arg(long, default_value = "build/carp.ko")]
    ko: String,
    /// Where captures (pcapng per wire) and the kernel log go.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Fail the N-th fallible allocation the module makes (fault injection).
    #[arg(long)]
    fault: Option<i64>,
    /// Print the number of fallible allocations the module made, at the end.
    #[arg(long)]
    count_faults: bool,
    /// Only load and unload FILE (loader checks).
    #[arg(long)]
    check_load: bool,
    /// carpdump binary used by `validate` lines.
    #[arg(long)]
    carpdump: Option<String>,
    /// Also have tshark check the CARP frames of validated wires.
    #[arg(long)]
    tshark: bool,
    /// Real time and concurrent threads instead of the virtual clock.
    #[arg(long)]
    real_time: bool,
    /// Seed of the kernel's arc4random.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print every line, command, kernel message, devd event and frame.
    #[arg(short, long)]
    verbose: bool,
    /// With --verbose, leave the frames out.
    #[arg(long)]
    no_frames: bool,
    /// Whole-module fuzzing with the corpus in DIR (use a coverage build: make ko-cov).
    #[arg(long, value_name = "DIR")]
    fuzz: Option<std::path::PathBuf>,
    /// With --fuzz: stop after this many programs (0: no limit).
    #[arg(long, default_value_t = 0)]
    fuzz_runs: u64,
    /// With --fuzz: stop after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0)]
    fuzz_seconds: u64,
    /// Corpus minimisation: --fuzz-cmin IN OUT keeps a small set covering all of IN.
    #[arg(long, num_args = 2, value_names = ["IN", "OUT"])]
    fuzz_cmin: Option<Vec<std::path::PathBuf>>,
    /// Run one fuzz program (a corpus or crash file) in this process.
    #[arg(long, value_name = "FILE")]
    fuzz_replay: Option<std::path::PathBuf>,
    /// The script (or, with --check-load, the module file).
    file: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Some(v) = &args.fuzz_cmin {
        std::process::exit(fuzz::cmin(&v[0], &v[1], &args.ko));
    }
    if let Some(dir) = &args.fuzz {
        // Before anything is booted: the fuzzer forks a fresh kernel per program.
        let o = fuzz::FuzzOpts { dir: dir.clone(), runs: args.fuzz_runs, seconds: args.fuzz_seconds, seed: args.seed, ko: args.ko.clone() };
        std::process::exit(fuzz::fuzz(&o));
    }
    host::VERBOSE.store(args.verbose, std::sync::atomic::Ordering::Relaxed);
    host::VERBOSE_FRAMES.store(!args.no_frames, std::sync::atomic::Ordering::Relaxed);
    host::install_fault_handler();
    loader::reserve();
    sched::init(args.real_time);
    // SAFETY: boot on the script thread (thread 0), which holds the CPU.
    unsafe {
        kapi::hk_random_seed(args.seed);
        kapi::hk_trace(i32::from(std::env::var("KHARNESS_TRACE").is_ok_and(|v| v.contains("callouts"))));
        kapi::hk_boot();
    }
    sched::settle();

    if let Some(f) = &args.fuzz_replay {
        // SAFETY: a kernel setting (the coverage build's panic symbol).
        unsafe { kapi::hk_fuzz_mode(1) };
        let program = std::fs::read(f).unwrap_or_else(|e| {
            eprintln!("kharness: {}: {e}", f.display());
            std::process::exit(2)
        });
        let opts = script::Options { ko: args.ko.clone(), out_dir: args.out.clone(), fault: None, carpdump: None, tshark: false, verbose: args.verbose };
        match script::run_program(&program, &opts) {
            Ok(()) => {
                println!("ok {}", f.display());
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("FAIL {e}");
                std::process::exit(1);
            }
        }
    }
    let Some(file) = args.file.clone() else {
        eprintln!("kharness: a script (or --check-load FILE, --fuzz DIR, --fuzz-replay FILE) is needed");
        std::process::exit(2);
    };

    if args.check_load {
        match loader::load(&file) {
            Ok(()) => {
                sched::settle();
                if let Err(e) = loader::unload() {
                    eprintln!("kharness: {}: unload failed: {}", file, userland::errno_name(e));
                    std::process::exit(1);
                }
                sched::settle();
                // SAFETY: a read of the failure count.
                let f = unsafe { kapi::hk_failures() };
                if f != 0 {
                    eprintln!("kharness: {}: {f} kernel check(s) failed", file);
                    std::process::exit(1);
                }
                println!("kharness: {}: loads and unloads", file);
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("kharness: {}: refused: {} ({})", file, e.msg, userland::errno_name(e.errno));
                std::process::exit(1);
            }
        }
    }

    if let Some(n) = args.fault {
        // SAFETY: a kernel setting.
        unsafe { kapi::hk_fault_set(n) };
    }
    let opts = script::Options {
        ko: args.ko.clone(),
        out_dir: args.out.clone(),
        fault: args.fault,
        carpdump: args.carpdump.clone(),
        tshark: args.tshark,
        verbose: args.verbose,
    };
    let r = script::run_file(&file, &opts);
    if args.count_faults {
        // SAFETY: a read of a kernel counter.
        println!("fallible allocations: {}", unsafe { kapi::hk_fault_count() });
    }
    match r {
        Ok(()) => {
            println!("ok {}", file);
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("FAIL {e}");
            std::process::exit(1);
        }
    }
}
