//! The committed header must equal a fresh cbindgen generation, and its version
//! macros must equal Cargo.toml's version.
//!
//! The fresh generation exists only with the `header` feature (cbindgen is
//! not built otherwise): `make test` runs this file once more with
//! `--features header`; without it the drift test is reported as ignored.

const COMMITTED: &str = include_str!("../include/sockloop.h");
#[cfg(feature = "header")]
const FRESH: &str = include_str!(concat!(env!("OUT_DIR"), "/sockloop.h"));

#[test]
#[cfg(not(feature = "header"))]
#[ignore = "needs --features header (make test-features runs it)"]
fn committed_header_matches_a_fresh_generation() {}

#[test]
#[cfg(feature = "header")]
fn committed_header_matches_a_fresh_generation() {
    if COMMITTED != FRESH {
        let line = COMMITTED.lines().zip(FRESH.lines()).position(|(a, b)| a != b);
        panic!(
            "include/sockloop.h is stale (first difference at line {}): run `make header` and commit it",
            line.map_or("<length>".to_string(), |l| (l + 1).to_string())
        );
    }
}

fn macro_value(name: &str) -> &'static str {
    let prefix = format!("#define {name} ");
    COMMITTED
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{name} missing from the header"))
        .trim()
}

#[test]
fn version_macros_match_cargo_toml() {
    assert_eq!(macro_value("SL_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(macro_value("SL_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(macro_value("SL_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
}

#[test]
fn combined_version_macros_match_cargo_toml() {
    let part = |name: &str| macro_value(name).parse::<u32>().unwrap();
    let (major, minor, patch) = (part("SL_VERSION_MAJOR"), part("SL_VERSION_MINOR"), part("SL_VERSION_PATCH"));
    assert_eq!(macro_value("SL_VERSION_NUM"), format!("0x{major:02x}{minor:02x}{patch:02x}"));
    assert_eq!(macro_value("SL_VERSION_STRING"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));
}

#[test]
fn runtime_version_equals_the_header_macros() {
    let num = macro_value("SL_VERSION_NUM").strip_prefix("0x").expect("SL_VERSION_NUM is a hex literal");
    assert_eq!(sockloop::ffi::version::sl_version(), u32::from_str_radix(num, 16).unwrap());
    // SAFETY: sl_version_string returns a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(sockloop::ffi::version::sl_version_string()) };
    assert_eq!(format!("\"{}\"", text.to_str().unwrap()), macro_value("SL_VERSION_STRING"));
    assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn header_has_banner_guards_and_a_doc_comment_on_every_function() {
    assert!(COMMITTED.contains("Do not edit"));
    assert!(COMMITTED.contains("#ifndef SOCKLOOP_H") && COMMITTED.contains("#define SOCKLOOP_H"));
    assert!(COMMITTED.contains("#ifdef __cplusplus\nextern \"C\" {"));
    let lines: Vec<&str> = COMMITTED.lines().collect();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        if (line.contains(" sl_") || line.contains("*sl_")) && line.trim_end().ends_with(");") && !line.starts_with(" ")
        {
            functions += 1;
            assert!(i > 0 && lines[i - 1].trim() == "*/", "no doc comment above: {line}");
        }
    }
    assert!(functions >= 21, "found only {functions} functions");
}

/// The header reads by family, transfer loops first and byte order last (the
/// order of `pub mod` lines in src/ffi/mod.rs, which cbindgen follows).
#[test]
fn header_is_ordered_by_family() {
    let families = [
        "sl_send_all(",
        "sl_send_frame(",
        "sl_conn_new(",
        "sl_wait_readable(",
        "sl_selector_new(",
        "sl_tcp_connect(",
        "sl_unix_listen(",
        "sl_set_nonblocking(",
        "sl_version(",
        "sl_htons(",
    ];
    let at: Vec<usize> = families
        .iter()
        .map(|f| {
            let decl = COMMITTED.lines().position(|l| !l.starts_with([' ', '/', '*']) && l.contains(f));
            decl.unwrap_or_else(|| panic!("no declaration of {f}"))
        })
        .collect();
    for (pair, lines) in families.windows(2).zip(at.windows(2)) {
        assert!(
            lines[0] < lines[1],
            "{} (line {}) comes after {} (line {})",
            pair[0],
            lines[0] + 1,
            pair[1],
            lines[1] + 1
        );
    }
    let first = COMMITTED.lines().position(|l| l.starts_with("ssize_t ") || l.starts_with("int ")).unwrap();
    assert_eq!(first, at[0], "the first function declared is not sl_send_all");
}

/// Constants are integer literals, usable in `#if` (no casts).
#[test]
fn constants_are_integer_literals() {
    for line in
        COMMITTED.lines().filter(|l| l.starts_with("#define SL_") && !l.starts_with("#define SL_VERSION_STRING"))
    {
        let value = line.split_whitespace().nth(2).unwrap_or_else(|| panic!("no value: {line}"));
        let digits = value
            .strip_prefix("0x")
            .map_or(value.chars().all(|c| c.is_ascii_digit()), |h| h.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(digits, "not an integer literal: {line}");
    }
}
