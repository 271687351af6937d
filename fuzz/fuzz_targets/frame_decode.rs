//! The frame decoder on arbitrary bytes and limits, fed in arbitrary chunks:
//! it never panics, never claims more than it has or more than the limit, and
//! decoding chunk by chunk gives the same frames as decoding all at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::frame::{decode, Decoded, HEADER_LEN};

/// Decodes every complete frame of `stream` fed in chunks of the given sizes;
/// returns the frames and whether decoding stopped at an oversized header.
fn decode_in_chunks(stream: &[u8], limit: usize, sizes: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let (mut buf, mut frames, mut at, mut i) = (Vec::new(), Vec::new(), 0, 0);
    while at < stream.len() {
        let n = (sizes.get(i % sizes.len().max(1)).copied().unwrap_or(255) as usize).max(1);
        i += 1;
        let end = (at + n).min(stream.len());
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            match decode(&buf, limit) {
                Decoded::Frame { len } => {
                    assert!(len <= limit && HEADER_LEN + len <= buf.len());
                    assert_eq!(u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize, len);
                    frames.push(buf[HEADER_LEN..HEADER_LEN + len].to_vec());
                    buf.drain(..HEADER_LEN + len);
                }
                Decoded::Incomplete => {
                    if buf.len() >= HEADER_LEN {
                        let declared = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
                        assert!(declared <= limit && buf.len() - HEADER_LEN < declared);
                    }
                    break;
                }
                Decoded::TooLarge { declared } => {
                    assert!(declared > limit as u64);
                    return (frames, true);
                }
            }
        }
    }
    (frames, false)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let limit = u16::from_le_bytes([data[0], data[1]]) as usize;
    let split = (data[2] as usize).min(data.len() - 3);
    let (sizes, stream) = data[3..].split_at(split);
    let whole = decode_in_chunks(stream, limit, &[255]);
    let chunked = decode_in_chunks(stream, limit, sizes);
    let bytewise = decode_in_chunks(stream, limit, &[1]);
    assert_eq!(whole, chunked);
    assert_eq!(whole, bytewise);
});
