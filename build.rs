//! Gives the shared library its soname, packs its relative relocations where
//! the C library can load that, and, with the `header` feature, generates the
//! C header with cbindgen.
//!
//! The header is committed (`include/sockloop.h`), so a normal build needs
//! neither cbindgen nor its dependencies. With `--features header` it is
//! written to `$OUT_DIR/sockloop.h`, and the committed copy is rewritten only
//! when `SOCKLOOP_WRITE_HEADER=1` (`make header`), so that `tests/header.rs`
//! (run with the feature by `make test`) catches a committed header that
//! drifted from the code.

use std::env;

fn main() {
    // The soname promise (README, "Versions and ABI"): libsockloop.so.MAJOR on
    // the ELF systems; macOS records an install name with the same number.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" | "solaris") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsockloop.so.{major}");
        }
        Ok("macos" | "ios") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libsockloop.{major}.dylib");
        }
        _ => {}
    }
    if packs_relative_relocs() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }

    #[cfg(feature = "header")]
    header::generate();
    #[cfg(not(feature = "header"))]
    println!("cargo:rerun-if-changed=build.rs");
}

/// DT_RELR, as Fedora and Arch link everything since glibc 2.36: the
/// relative relocations (most of a Rust library's: vtables, panic locations)
/// take 0.2 KB instead of 20 KB of the stripped library. The library then
/// needs glibc 2.36 to load (its `GLIBC_ABI_DT_RELR` version need makes an
/// older loader refuse it by name), so only on a native glibc build whose
/// own glibc has it; `SOCKLOOP_RELR=0` turns it off for a library meant for
/// older systems than the one building it.
fn packs_relative_relocs() -> bool {
    println!("cargo:rerun-if-env-changed=SOCKLOOP_RELR");
    let var = |name| env::var(name).unwrap_or_default();
    if var("SOCKLOOP_RELR") == "0"
        || var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("HOST") != var("TARGET")
    {
        return false;
    }
    // "glibc 2.36"
    let Ok(out) = std::process::Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().trim_start_matches("glibc ").split('.').map(|p| p.parse::<u32>().ok());
    matches!((parts.next(), parts.next()), (Some(Some(major)), Some(Some(minor))) if (major, minor) >= (2, 36))
}

#[cfg(feature = "header")]
mod header {
    use std::env;
    use std::path::PathBuf;

    pub fn generate() {
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=cbindgen.toml");
        println!("cargo:rerun-if-changed=build.rs");
        println!("cargo:rerun-if-env-changed=SOCKLOOP_WRITE_HEADER");

        let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        let mut config =
            cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is readable and valid");
        let part = |name: &str| -> u32 {
            let value: u32 = env::var(name).unwrap().parse().expect("a numeric version part");
            assert!(value < 256, "{name} must fit one byte of SL_VERSION_NUM (0xMMmmpp)");
            value
        };
        let (major, minor, patch) =
            (part("CARGO_PKG_VERSION_MAJOR"), part("CARGO_PKG_VERSION_MINOR"), part("CARGO_PKG_VERSION_PATCH"));
        let version = env::var("CARGO_PKG_VERSION").unwrap();
        config.after_includes = Some(format!(
            "\n/** The version this header belongs to (Cargo.toml's); `sl_version()` and\n \
             * `sl_version_string()` give the version of the library loaded at run time. */\n\
             #define SL_VERSION_MAJOR {major}\n#define SL_VERSION_MINOR {minor}\n#define SL_VERSION_PATCH {patch}\n\
             /** `0xMMmmpp`, one byte per part, as libuv's UV_VERSION_HEX: usable in `#if`. */\n\
             #define SL_VERSION_NUM 0x{major:02x}{minor:02x}{patch:02x}\n\
             #define SL_VERSION_STRING \"{version}\"",
        ));

        let bindings = cbindgen::Builder::new()
            .with_crate(&crate_dir)
            .with_config(config)
            .generate()
            .expect("cbindgen could not generate the header");

        let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("sockloop.h");
        bindings.write_to_file(&out);
        if env::var_os("SOCKLOOP_WRITE_HEADER").is_some_and(|v| v == "1") {
            bindings.write_to_file(crate_dir.join("include/sockloop.h"));
        }
    }
}
