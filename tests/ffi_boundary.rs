//! Every exported function's body must be one `ffi_guard!` block (the panic
//! guard and errno boundary), and the exported set must equal the header's.

use std::collections::BTreeSet;
use std::fs;

/// (name, body starts with ffi_guard!) for each `extern "C" fn` in src/ffi/.
fn exported_functions() -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi")).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            rest = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let body = &rest[rest.find('{').expect("function body")..];
            // The first statement, after the comments (a SAFETY note) before it.
            let mut first = body[1..].trim_start();
            while first.starts_with("//") {
                first = first[first.find('\n').unwrap_or(first.len())..].trim_start();
            }
            found.push((name, first.starts_with("ffi_guard!(")));
        }
    }
    found
}

#[test]
fn every_exported_function_runs_inside_ffi_guard() {
    let functions = exported_functions();
    assert!(functions.len() >= 21, "parser found only {} functions", functions.len());
    let unguarded: Vec<_> = functions.iter().filter(|(_, guarded)| !guarded).map(|(n, _)| n).collect();
    assert!(unguarded.is_empty(), "not wrapped in ffi_guard!: {unguarded:?}");
}

#[test]
fn exported_functions_equal_the_header() {
    let header = include_str!("../include/sockloop.h");
    // Function names are the `sl_` words followed by `(`: types such as the
    // opaque `sl_selector` or the struct `sl_event` are `sl_` words too.
    let declared: BTreeSet<String> = header
        .split('(')
        .filter_map(|before| before.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next())
        .filter(|w| w.starts_with("sl_"))
        .map(str::to_string)
        .collect();
    // Opaque types (`typedef struct sl_x sl_x;`) are declared, not exported.
    let types: BTreeSet<String> = header
        .lines()
        .filter_map(|l| l.strip_prefix("typedef struct "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let declared: BTreeSet<String> = declared.difference(&types).cloned().collect();
    let exported: BTreeSet<String> = exported_functions().into_iter().map(|(n, _)| n).collect();
    for name in &exported {
        assert!(name.starts_with("sl_"), "exported function without the sl_ prefix: {name}");
    }
    assert_eq!(declared, exported);
}
