//! The resumable delimiter search on arbitrary data, delimiters and arrival
//! patterns: it agrees with a naive search at every step and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::frame::DelimSearch;

fn naive(hay: &[u8], delim: &[u8]) -> Option<usize> {
    hay.windows(delim.len()).position(|w| w == delim)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let delim_len = 1 + data[0] as usize % 4;
    let step = 1 + data[1] as usize % 16;
    if data.len() < 2 + delim_len {
        return;
    }
    let delim = &data[2..2 + delim_len];
    let stream = &data[2 + delim_len..];
    // Records arrive `step` bytes at a time; each one found is consumed.
    let mut search = DelimSearch::new();
    let (mut start, mut end) = (0, 0);
    while end < stream.len() {
        end = (end + step).min(stream.len());
        while let Some(at) = search.find(&stream[start..end], delim) {
            assert_eq!(Some(at), naive(&stream[start..end], delim));
            start += at + delim.len();
            search.consumed(at + delim.len());
        }
        assert_eq!(naive(&stream[start..end], delim), None);
        assert!(search.checked() <= end - start);
    }
});
