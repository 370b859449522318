//! Generates `$OUT_DIR/bindings.rs` from `wrapper.h` with bindgen.
//!
//! The compiler flags come from the environment variable `CARP_KERNEL_CFLAGS`, set by the
//! top-level Makefile (or by kmod/bsd/Makefile on FreeBSD). It is the ONE definition of the
//! kernel's preprocessor and code-generation flags: the C shim is compiled with exactly the
//! same string, so bindgen sees the same structure layouts, options (`opt_*.h`) and
//! `__FreeBSD_version` as the C code.
//!
//! This is host code (a build script): failing loudly is the right behaviour.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let shim_dir = manifest_dir.join("../kmod/shim");

    println!("cargo:rerun-if-env-changed=CARP_KERNEL_CFLAGS");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=allowlist.txt");
    println!("cargo:rerun-if-changed={}", shim_dir.join("carp_shim.h").display());

    let cflags = match env::var("CARP_KERNEL_CFLAGS") {
        Ok(f) if !f.trim().is_empty() => f,
        _ => {
            eprintln!(
                "sys-bindings: CARP_KERNEL_CFLAGS is not set.\n\
                 Build carp.ko with `make` at the top of the repository (or kmod/bsd/Makefile on\n\
                 FreeBSD): it defines the kernel compiler flags once and passes them here."
            );
            std::process::exit(1);
        }
    };
    // Whitespace-separated, as make passes them; paths with spaces are not supported.
    let mut clang_args: Vec<String> = cflags.split_whitespace().map(str::to_owned).collect();
    clang_args.push(format!("-I{}", shim_dir.display()));
    // Let the generated headers and opt_*.h changes trigger regeneration too.
    for a in &clang_args {
        if let Some(dir) = a.strip_prefix("-I") {
            for opt in ["opt_global.h", "opt_inet.h", "opt_inet6.h", "opt_bpf.h"] {
                let p = PathBuf::from(dir).join(opt);
                if p.exists() {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
        }
    }

    let mut builder = bindgen::Builder::default()
        .header(manifest_dir.join("wrapper.h").to_string_lossy().into_owned())
        .clang_args(&clang_args)
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(true)
        .derive_default(true)
        .derive_debug(false)
        .generate_comments(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .size_t_is_usize(true)
        .formatter(bindgen::Formatter::Prettyplease)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));

    let list = fs::read_to_string(manifest_dir.join("allowlist.txt")).expect("allowlist.txt");
    for (n, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kind, re) = line.split_once(char::is_whitespace).unwrap_or_else(|| {
            panic!("allowlist.txt:{}: expected `KIND REGEX`, got {line:?}", n + 1)
        });
        let re = re.trim();
        builder = match kind {
            "function" => builder.allowlist_function(re),
            "var" => builder.allowlist_var(re),
            "type" => builder.allowlist_type(re),
            "item" => builder.allowlist_item(re),
            "file" => builder.allowlist_file(re),
            "opaque" => builder.opaque_type(re),
            "block" => builder.blocklist_item(re),
            other => panic!("allowlist.txt:{}: unknown kind {other:?}", n + 1),
        };
    }

    let bindings = builder.generate().unwrap_or_else(|e| {
        panic!("bindgen failed on wrapper.h with CARP_KERNEL_CFLAGS={cflags:?}: {e}")
    });
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs");

    // Export the flags to dependents (DEP_FREEBSD_KERNEL_HEADERS_CFLAGS) for any crate that
    // compiles C of its own; today the Makefile compiles the shim.
    println!("cargo:cflags={cflags}");
}
