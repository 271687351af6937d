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
    config.after_includes = Some(format!(
        "\n#define SL_VERSION_MAJOR {}\n#define SL_VERSION_MINOR {}\n#define SL_VERSION_PATCH {}",
        env::var("CARGO_PKG_VERSION_MAJOR").unwrap(),
        env::var("CARGO_PKG_VERSION_MINOR").unwrap(),
        env::var("CARGO_PKG_VERSION_PATCH").unwrap(),
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
