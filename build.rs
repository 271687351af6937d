//! Generates the C header with cbindgen and gives the shared library its soname.
//!
//! The header is always written to `$OUT_DIR/sockloop.h`; the committed copy in
//! `include/` is rewritten only when `SOCKLOOP_WRITE_HEADER=1` (`make header`), so
//! that `tests/header.rs` can catch a committed header that drifted from the code.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=SOCKLOOP_WRITE_HEADER");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsockloop.so.{major}");
    }

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let part = |name: &str| -> u32 {
        let value: u32 = env::var(name).unwrap().parse().expect("a numeric version part");
        assert!(value < 256, "{name} must fit one byte of SL_VERSION_NUM (0xMMmmpp)");
        value
    };
    let (major, minor, patch) = (part("CARGO_PKG_VERSION_MAJOR"), part("CARGO_PKG_VERSION_MINOR"), part("CARGO_PKG_VERSION_PATCH"));
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
