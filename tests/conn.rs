//! The buffered connection over real sockets: every read mode against every
//! split of the stream, limits, end of stream, timeouts, event-loop steps with
//! poll(2), and the memory it holds.

mod common;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::thread;

use common::*;
use sockloop::conn::Conn;
use sockloop::deadline::Deadline;

const LIMIT: usize = 100;

fn code<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.expect_err("expected an error").raw_os_error().unwrap()
}

fn write_raw(fd: RawFd, bytes: &[u8]) {
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
    assert_eq!(n, bytes.len() as isize);
}

fn frame(payload: &[u8]) -> Vec<u8> {
    [&(payload.len() as u32).to_be_bytes()[..], payload].concat()
}

fn ms(t: i32) -> Deadline {
    Deadline::from_timeout_ms(t).unwrap()
}

/// How a reader takes one message with no waiting: `Ok(None)` when it needs
/// more bytes.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Frames,
    Records(&'static [u8]),
    Exact(usize),
    LoopFrames,
    LoopRecords(&'static [u8]),
}

impl Mode {
    fn encode(self, messages: &[Vec<u8>]) -> Vec<u8> {
        messages
            .iter()
            .flat_map(|m| match self {
                Mode::Frames | Mode::LoopFrames => frame(m),
                Mode::Records(d) | Mode::LoopRecords(d) => [m.as_slice(), d].concat(),
                Mode::Exact(_) => m.clone(),
            })
            .collect()
    }

    fn messages(self, rng: &mut Rng) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = vec![vec![], vec![7; LIMIT]];
        out.extend((0..30).map(|_| {
            let len = match self {
                Mode::Exact(n) => n,
                _ => rng.below(LIMIT + 1),
            };
            // Letters only, so no record contains a delimiter.
            (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
        }));
        if let Mode::Exact(n) = self {
            out.retain(|m| m.len() == n);
        }
        out
    }

    fn try_next(self, conn: &mut Conn) -> io::Result<Option<Vec<u8>>> {
        let mut buf = [0u8; LIMIT];
        let got = match self {
            Mode::Frames => conn.read_frame(&mut buf, Deadline::Immediate).map(|n| buf[..n].to_vec()),
            Mode::Records(d) => conn.read_until(d, &mut buf, Deadline::Immediate).map(|n| buf[..n].to_vec()),
            Mode::Exact(n) => conn.read_exact(&mut buf[..n], Deadline::Immediate).map(|()| buf[..n].to_vec()),
            Mode::LoopFrames | Mode::LoopRecords(_) => loop {
                let taken = match self {
                    Mode::LoopFrames => conn.take_frame()?.map(<[u8]>::to_vec),
                    Mode::LoopRecords(d) => conn.take_record(d)?.map(<[u8]>::to_vec),
                    _ => unreachable!(),
                };
                if let Some(m) = taken {
                    break Ok(m);
                }
                match conn.fill() {
                    Ok(0) => break Err(io::Error::from_raw_os_error(libc::EPIPE)),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            },
        };
        match got {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

const MODES: [Mode; 9] = [
    Mode::Frames,
    Mode::Records(b"\n"),
    Mode::Records(b"\r\n"),
    Mode::Records(b"\0"),
    Mode::Records(b"END"),
    Mode::Exact(13),
    Mode::LoopFrames,
    Mode::LoopRecords(b"\r\n"),
    Mode::LoopRecords(b"END"),
];

/// Writes `chunks` one at a time, taking every message that is complete after
/// each one, and returns what was read.
fn read_through_chunks(mode: Mode, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut got = Vec::new();
    for chunk in chunks {
        write_raw(a.as_raw_fd(), chunk);
        while let Some(m) = mode.try_next(&mut conn).unwrap() {
            got.push(m);
        }
    }
    assert!(conn.buffered().is_empty(), "{mode:?}: bytes left");
    got
}

/// `stream` cut into pieces of 1..=`max` bytes at random.
fn random_chunks<'a>(stream: &'a [u8], max: usize, rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = 1 + rng.below(max.min(stream.len() - at));
        chunks.push(&stream[at..at + n]);
        at += n;
    }
    chunks
}

#[test]
fn every_mode_at_every_split_point_one_byte_writes_and_one_write() {
    let mut rng = Rng(seed());
    for mode in MODES {
        let messages = mode.messages(&mut rng);
        let stream = mode.encode(&messages);
        // Everything in one write: several messages in one segment.
        assert_eq!(read_through_chunks(mode, &[&stream]), messages, "{mode:?} one write");
        // 1-byte writes: every byte boundary at once.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(read_through_chunks(mode, &bytes), messages, "{mode:?} 1-byte writes");
        // Every split point into two writes (on a shorter prefix of messages).
        let short = &messages[..6];
        let stream = mode.encode(short);
        for cut in 0..=stream.len() {
            let (x, y) = stream.split_at(cut);
            assert_eq!(read_through_chunks(mode, &[x, y]), short, "{mode:?} cut at {cut}");
        }
        // Random splits.
        let stream = mode.encode(&messages);
        let chunks = random_chunks(&stream, 40, &mut rng);
        assert_eq!(read_through_chunks(mode, &chunks), messages, "{mode:?} random splits");
    }
}

/// Writes `chunks` one at a time, taking the complete frames after each in
/// batches of at most `max`, and returns them with the batch sizes seen. The
/// read buffer holds about one message of `limit`.
fn take_batches_through_chunks(chunks: &[&[u8]], max: usize, limit: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), limit) }.unwrap();
    let (mut got, mut batches) = (Vec::new(), Vec::new());
    for chunk in chunks {
        write_raw(a.as_raw_fd(), chunk);
        loop {
            match conn.take_frames(max, |p| got.push(p.to_vec())).unwrap() {
                0 => match conn.fill() {
                    Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                    other => assert!(other.unwrap() > 0),
                },
                n => batches.push(n),
            }
        }
    }
    assert!(conn.buffered().is_empty(), "bytes left");
    (got, batches)
}

#[test]
fn batched_frames_at_every_split_point() {
    let mut rng = Rng(seed());
    let messages = Mode::Frames.messages(&mut rng);
    let stream = Mode::Frames.encode(&messages);
    // All in one write and one fill: full batches of 3, then the rest.
    let (got, batches) = take_batches_through_chunks(&[&stream], 3, 64 * 1024);
    assert_eq!(got, messages);
    assert!(batches[..batches.len() - 1].iter().all(|&n| n == 3), "{batches:?}");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(take_batches_through_chunks(&bytes, 3, LIMIT).0, messages, "1-byte writes");
    let short = Mode::Frames.encode(&messages[..6]);
    for cut in 0..=short.len() {
        let (x, y) = short.split_at(cut);
        assert_eq!(take_batches_through_chunks(&[x, y], 4, LIMIT).0, &messages[..6], "cut at {cut}");
    }
    let chunks = random_chunks(&stream, 300, &mut rng);
    assert_eq!(take_batches_through_chunks(&chunks, 1000, LIMIT).0, messages, "random splits");
}

#[test]
fn a_batch_stops_before_an_oversized_frame_which_the_next_call_reports() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let over = [&((LIMIT + 1) as u32).to_be_bytes()[..], &[9u8; LIMIT + 1]].concat();
    write_raw(a.as_raw_fd(), &[frame(b"one"), frame(b""), over, frame(b"two")].concat());
    conn.fill().unwrap();
    let mut got = Vec::new();
    assert_eq!(conn.take_frames(10, |p| got.push(p.to_vec())).unwrap(), 2);
    assert_eq!(got, [b"one".to_vec(), vec![]]);
    assert_eq!(code(conn.take_frames(10, |_| panic!("nothing may be taken"))), libc::EMSGSIZE);
    // The oversized payload is skipped as it arrives (the read buffer holds
    // about one message of the limit), then the frame after it comes.
    got.clear();
    while conn.take_frames(10, |p| got.push(p.to_vec())).unwrap() == 0 {
        assert!(conn.fill().unwrap() > 0);
    }
    assert_eq!(got, [b"two".to_vec()]);
    assert_eq!(conn.take_frames(0, |_| panic!("max 0")).unwrap(), 0);
}

#[test]
fn frames_built_in_place_arrive_and_a_bad_batch_queues_nothing() {
    let (a, b) = socketpair();
    let mut writer = unsafe { Conn::borrowing(a.as_raw_fd(), LIMIT) }.unwrap();
    let payloads = [&b"in"[..], b"", &[5u8; LIMIT], b"place"];
    let lens: Vec<usize> = payloads.iter().map(|p| p.len()).collect();
    let mut next = payloads.iter();
    let pending = writer.reserve_frames(&lens, |slot| slot.copy_from_slice(next.next().unwrap())).unwrap();
    assert_eq!(pending, 4 * 4 + lens.iter().sum::<usize>());
    #[cfg(target_pointer_width = "64")]
    assert_eq!(code(writer.reserve_frames(&[1, 1 << 32], |_| panic!("nothing is reserved"))), libc::EMSGSIZE);
    // A slot left unwritten goes out as zeros.
    writer.reserve_frames(&[3], |_| {}).unwrap();
    assert_eq!(writer.flush().unwrap(), 0);
    let mut reader = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut buf = [0u8; LIMIT];
    for p in payloads.iter().chain([&&[0u8; 3][..]]) {
        let n = reader.read_frame(&mut buf, ms(1000)).unwrap();
        assert_eq!(&buf[..n], *p);
    }
    assert!(reader.buffered().is_empty());
}

#[test]
fn queued_batches_arrive_as_frames_and_a_bad_batch_queues_nothing() {
    let (a, b) = socketpair();
    let mut writer = unsafe { Conn::borrowing(a.as_raw_fd(), LIMIT) }.unwrap();
    let payloads = [&b"ab"[..], b"", &[5u8; LIMIT], b"xyz"];
    let lens: Vec<usize> = payloads.iter().map(|p| p.len()).collect();
    let joined = payloads.concat();
    assert_eq!(writer.queue_frames(&joined, &lens).unwrap(), 4 * 4 + joined.len());
    // Lengths that do not add up, or one over 4 GiB - 1: nothing is queued.
    assert_eq!(code(writer.queue_frames(&joined, &[1, 2])), libc::EINVAL);
    assert_eq!(code(writer.queue_frames(&joined[..3], &lens)), libc::EINVAL);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(code(writer.queue_frames(&joined, &[1 << 32, 0])), libc::EMSGSIZE);
    assert_eq!(writer.queue_frames(&[], &[]).unwrap(), 4 * 4 + joined.len());
    assert_eq!(writer.flush().unwrap(), 0);
    let mut reader = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut buf = [0u8; LIMIT];
    for p in payloads {
        let n = reader.read_frame(&mut buf, ms(1000)).unwrap();
        assert_eq!(&buf[..n], p);
    }
    assert!(reader.buffered().is_empty());
}

#[test]
fn blocking_reads_against_a_peer_writing_one_byte_at_a_time_over_tcp() {
    let (a, b) = tcp_pair();
    a.set_nodelay(true).unwrap();
    let mut rng = Rng(seed());
    let messages = Mode::Frames.messages(&mut rng);
    let mut stream = Mode::Frames.encode(&messages);
    stream.extend_from_slice(b"line one\r\nEND");
    let writer = thread::spawn(move || {
        for byte in stream {
            write_raw(a.as_raw_fd(), &[byte]);
        }
        a // closed after the reader checked end of stream
    });
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut buf = [0u8; LIMIT];
    for m in &messages {
        let n = conn.read_frame(&mut buf, ms(5000)).unwrap();
        assert_eq!(&buf[..n], &m[..]);
    }
    let n = conn.read_until(b"\r\n", &mut buf, ms(5000)).unwrap();
    assert_eq!(&buf[..n], b"line one");
    conn.read_exact(&mut buf[..3], ms(5000)).unwrap();
    assert_eq!(&buf[..3], b"END");
    drop(writer.join().unwrap());
    assert_eq!(code(conn.read_frame(&mut buf, ms(5000))), libc::EPIPE);
    assert_eq!(conn.buffered().len(), 0, "ended between messages");
}

#[test]
fn a_frame_of_exactly_the_limit_passes_and_one_byte_over_is_skipped() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut buf = vec![0u8; 4 * LIMIT];
    write_raw(a.as_raw_fd(), &[frame(&[1; LIMIT]), frame(&[2; LIMIT + 1]), frame(b"next")].concat());
    assert_eq!(conn.read_frame(&mut buf, ms(1000)).unwrap(), LIMIT);
    assert_eq!(code(conn.read_frame(&mut buf, ms(1000))), libc::EMSGSIZE);
    assert_eq!(conn.read_frame(&mut buf, ms(1000)).unwrap(), 4);
    assert_eq!(&buf[..4], b"next");
    // The same through the event-loop steps, with the oversized payload
    // arriving after the error.
    write_raw(a.as_raw_fd(), &frame(&[3; LIMIT + 1])[..10]);
    conn.fill().unwrap();
    assert_eq!(code(conn.take_frame()), libc::EMSGSIZE);
    assert_eq!(conn.take_frame().unwrap(), None);
    write_raw(a.as_raw_fd(), &[&frame(&[3; LIMIT + 1])[10..], &frame(b"after")[..]].concat());
    conn.fill().unwrap();
    assert_eq!(conn.take_frame().unwrap(), Some(&b"after"[..]));
    assert_eq!(conn.take_frame().unwrap(), None);
}

#[test]
fn a_record_of_exactly_the_limit_passes_and_one_byte_over_is_skipped() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut buf = vec![0u8; 4 * LIMIT];
    let exact = [vec![b'x'; LIMIT], b"\r\n".to_vec()].concat();
    let over = [vec![b'y'; LIMIT + 1], b"\r\n".to_vec()].concat();
    write_raw(a.as_raw_fd(), &[&exact[..], &over, b"ok\r\n"].concat());
    assert_eq!(conn.read_until(b"\r\n", &mut buf, ms(1000)).unwrap(), LIMIT);
    assert_eq!(code(conn.read_until(b"\r\n", &mut buf, ms(1000))), libc::EMSGSIZE);
    assert_eq!(conn.read_until(b"\r\n", &mut buf, ms(1000)).unwrap(), 2);
    assert_eq!(&buf[..2], b"ok");
    // A long record still arriving: refused once the limit is passed, skipped
    // through its delimiter as the rest arrives (the delimiter split too).
    write_raw(a.as_raw_fd(), &[b'z'; 3 * LIMIT]);
    assert_eq!(code(conn.read_until(b"\r\n", &mut buf, ms(1000))), libc::EMSGSIZE);
    assert_eq!(code(conn.read_until(b"\r\n", &mut buf, Deadline::Immediate)), libc::EAGAIN);
    write_raw(a.as_raw_fd(), b"zzz\r");
    assert_eq!(code(conn.read_until(b"\r\n", &mut buf, Deadline::Immediate)), libc::EAGAIN);
    write_raw(a.as_raw_fd(), b"\nfine\r\n");
    assert_eq!(conn.read_until(b"\r\n", &mut buf, ms(1000)).unwrap(), 4);
    assert_eq!(&buf[..4], b"fine");
    assert!(conn.capacities().0 <= LIMIT + 4, "{:?}", conn.capacities());
}

#[test]
fn a_message_larger_than_the_callers_buffer_stays_buffered() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    write_raw(a.as_raw_fd(), &[frame(b"0123456789"), b"abcdef\n".to_vec()].concat());
    let mut small = [0u8; 5];
    let mut big = [0u8; 20];
    assert_eq!(code(conn.read_frame(&mut small, ms(1000))), libc::EMSGSIZE);
    assert_eq!(conn.read_frame(&mut big, ms(1000)).unwrap(), 10);
    assert_eq!(code(conn.read_until(b"\n", &mut small, ms(1000))), libc::EMSGSIZE);
    assert_eq!(conn.read_until(b"\n", &mut big, ms(1000)).unwrap(), 6);
    assert_eq!(&big[..6], b"abcdef");
    assert_eq!(code(conn.read_exact(&mut [0u8; LIMIT + 1], ms(1000))), libc::EMSGSIZE);
}

#[test]
fn a_declared_length_of_4_gib_is_emsgsize_without_allocation() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), 1 << 20) }.unwrap();
    write_raw(a.as_raw_fd(), &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    let mut buf = [0u8; 64];
    assert_eq!(code(conn.read_frame(&mut buf, ms(1000))), libc::EMSGSIZE);
    // The payload is skipped as it arrives, never stored.
    write_raw(a.as_raw_fd(), &[9u8; 100_000]);
    assert_eq!(code(conn.read_frame(&mut buf, ms(50))), libc::ETIMEDOUT);
    assert_eq!(conn.buffered().len(), 0);
    let (input, output) = conn.capacities();
    assert!(input <= 64 * 1024 + 4 && output == 0, "peak buffers {input} {output}");
}

#[test]
fn end_of_stream_in_the_middle_of_a_frame_is_epipe_with_the_bytes_kept() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    write_raw(a.as_raw_fd(), &[frame(b"whole"), frame(b"cut short")[..7].to_vec()].concat());
    drop(a);
    let mut buf = [0u8; LIMIT];
    assert_eq!(conn.read_frame(&mut buf, ms(1000)).unwrap(), 5);
    assert_eq!(code(conn.read_frame(&mut buf, ms(1000))), libc::EPIPE);
    assert_eq!(conn.buffered(), &frame(b"cut short")[..7]);
    assert_eq!(code(conn.read_until(b"\n", &mut buf, ms(1000))), libc::EPIPE);
    assert_eq!(conn.fill().unwrap(), 0, "end of stream, distinct from EAGAIN");
    assert_eq!(conn.take_frame().unwrap(), None);
}

#[test]
fn a_timeout_in_the_middle_of_a_frame_then_resume() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let whole = frame(b"resumable payload");
    write_raw(a.as_raw_fd(), &whole[..9]);
    let mut buf = [0u8; LIMIT];
    assert_eq!(code(conn.read_frame(&mut buf, ms(30))), libc::ETIMEDOUT);
    assert_eq!(code(conn.read_frame(&mut buf, Deadline::Immediate)), libc::EAGAIN);
    assert_eq!(conn.buffered().len(), 9);
    write_raw(a.as_raw_fd(), &whole[9..]);
    let n = conn.read_frame(&mut buf, ms(1000)).unwrap();
    assert_eq!(&buf[..n], b"resumable payload");
    // A delimiter split across reads, with a timeout between the halves.
    write_raw(a.as_raw_fd(), b"half\r");
    assert_eq!(code(conn.read_until(b"\r\n", &mut buf, ms(20))), libc::ETIMEDOUT);
    write_raw(a.as_raw_fd(), b"\n");
    assert_eq!(conn.read_until(b"\r\n", &mut buf, ms(1000)).unwrap(), 4);
}

fn poll_one(fd: RawFd, events: i16) {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    assert_eq!(unsafe { libc::poll(&mut p, 1, 5000) }, 1, "poll timed out");
}

fn payload_of(i: u32) -> Vec<u8> {
    i.to_le_bytes().repeat((i % 16) as usize)
}

/// Streams frames one way over non-blocking TCP with the event-loop steps:
/// one call per frame, or batches (`queue_frames`/`take_frames`) of up to 100.
fn event_loop_stream(batched: bool) {
    const FRAMES: u32 = 200_000;
    let (a, b) = tcp_pair();
    set_nonblocking(a.as_raw_fd());
    set_nonblocking(b.as_raw_fd());
    let sender = thread::spawn(move || {
        let mut conn = unsafe { Conn::borrowing(a.as_raw_fd(), LIMIT) }.unwrap();
        for first in (0..FRAMES).step_by(100) {
            let batch: Vec<Vec<u8>> = (first..first + 100).map(payload_of).collect();
            if batched {
                let lens: Vec<usize> = batch.iter().map(Vec::len).collect();
                conn.queue_frames(&batch.concat(), &lens).unwrap();
            } else {
                batch.iter().for_each(|p| {
                    conn.queue_frame(p).unwrap();
                });
            }
            if conn.pending() >= 64 * 1024 {
                while conn.flush().unwrap() > 32 * 1024 {
                    poll_one(a.as_raw_fd(), libc::POLLOUT);
                }
            }
        }
        while conn.flush().unwrap() > 0 {
            poll_one(a.as_raw_fd(), libc::POLLOUT);
        }
        drop(conn);
        a
    });
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), LIMIT) }.unwrap();
    let mut next = 0u32;
    loop {
        match conn.fill() {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                if next == FRAMES {
                    break;
                }
                poll_one(b.as_raw_fd(), libc::POLLIN);
                continue;
            }
            Err(e) => panic!("{e}"),
        }
        let mut check = |payload: &[u8]| {
            assert_eq!(payload, &payload_of(next)[..]);
            next += 1;
        };
        if batched {
            while conn.take_frames(64, &mut check).unwrap() > 0 {}
        } else {
            while let Some(payload) = conn.take_frame().unwrap() {
                check(payload);
            }
        }
    }
    assert_eq!(next, FRAMES);
    drop(sender.join().unwrap());
}

#[test]
fn event_loop_streams_frames_over_nonblocking_tcp_with_poll() {
    event_loop_stream(false);
}

#[test]
fn event_loop_streams_batches_over_nonblocking_tcp_with_poll() {
    event_loop_stream(true);
}

#[test]
fn a_write_that_times_out_keeps_the_rest_of_its_frame_queued() {
    let (a, b) = socketpair();
    set_buffer_sizes(&a, 4096);
    let mut conn = unsafe { Conn::borrowing(a.as_raw_fd(), LIMIT) }.unwrap();
    let mut rng = Rng(seed());
    let payload = rng.bytes(1 << 20);
    assert_eq!(code(conn.write_frame(&payload, ms(30))), libc::ETIMEDOUT);
    let left = conn.pending();
    assert!(left > 0 && left < payload.len() + 4, "{left}");
    // A second frame goes behind the rest of the first.
    assert_eq!(code(conn.write_frame(b"second", Deadline::Immediate)), libc::EAGAIN);
    let reader = thread::spawn(move || {
        let mut r = unsafe { Conn::borrowing(b.as_raw_fd(), 2 << 20) }.unwrap();
        let mut buf = vec![0u8; 2 << 20];
        let n = r.read_frame(&mut buf, ms(5000)).unwrap();
        buf.truncate(n);
        let mut second = [0u8; 6];
        assert_eq!(r.read_frame(&mut second, ms(5000)).unwrap(), 6);
        assert_eq!(&second, b"second");
        buf
    });
    while conn.flush().unwrap() > 0 {
        poll_one(a.as_raw_fd(), libc::POLLOUT);
    }
    assert!(reader.join().unwrap() == payload);
    assert!(conn.capacities().1 <= 64 * 1024, "{:?}", conn.capacities());
}

#[test]
fn memory_per_connection_is_small_and_idle_buffers_shrink_back() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), 4 << 20) }.unwrap();
    eprintln!("sl_conn: {} bytes before first use", std::mem::size_of::<Conn>());
    // 168 on x86-64 since the length prefix and the high-water mark.
    assert!(std::mem::size_of::<Conn>() <= 176);
    assert_eq!(conn.capacities(), (0, 0), "nothing allocated before first use");
    let big = vec![5u8; 3 << 20];
    let writer = {
        let fd = a.as_raw_fd();
        let f = frame(&big);
        thread::spawn(move || write_raw_all(fd, &f))
    };
    let mut buf = vec![0u8; 3 << 20];
    assert_eq!(conn.read_frame(&mut buf, ms(5000)).unwrap(), big.len());
    writer.join().unwrap();
    let (input, _) = conn.capacities();
    assert!(input <= 64 * 1024 + 4, "idle read buffer is {input} bytes");
    // A small limit means a small buffer.
    let mut small = unsafe { Conn::borrowing(b.as_raw_fd(), 10) }.unwrap();
    write_raw(a.as_raw_fd(), &frame(b"0123456789"));
    assert_eq!(small.read_frame(&mut buf, ms(1000)).unwrap(), 10);
    assert!(small.capacities().0 <= 14, "{:?}", small.capacities());
}

fn write_raw_all(fd: RawFd, bytes: &[u8]) {
    let mut at = 0;
    while at < bytes.len() {
        let n = unsafe { libc::send(fd, bytes[at..].as_ptr().cast(), bytes.len() - at, libc::MSG_NOSIGNAL) };
        assert!(n > 0);
        at += n as usize;
    }
}

#[test]
fn fill_reports_eagain_and_enobufs_distinctly() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), 8) }.unwrap();
    assert_eq!(code(conn.fill()), libc::EAGAIN);
    write_raw(a.as_raw_fd(), &[frame(b"12345678"), frame(b"x")].concat());
    assert_eq!(conn.fill().unwrap(), 12, "the buffer holds at most limit + 4");
    assert_eq!(code(conn.fill()), libc::ENOBUFS);
    assert_eq!(conn.take_frame().unwrap(), Some(&b"12345678"[..]));
    assert!(conn.fill().unwrap() > 0);
    assert_eq!(conn.take_frame().unwrap(), Some(&b"x"[..]));
    drop(a);
    assert_eq!(conn.fill().unwrap(), 0);
}

#[test]
fn bad_arguments() {
    // SAFETY (every call here): each is refused before the fd is used.
    assert_eq!(code(unsafe { Conn::borrowing(-1, 10) }), libc::EINVAL);
    assert_eq!(code(unsafe { Conn::borrowing(0, u32::MAX as usize + 1) }), libc::EINVAL);
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    drop(a);
    assert_eq!(code(unsafe { Conn::borrowing(fd, 10) }), libc::EBADF);
    assert_eq!(code(unsafe { Conn::from_raw_fd(fd, 10) }), libc::EBADF);
    // An owned fd is closed with a connection that could not be made.
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    assert_eq!(code(Conn::new(a, u32::MAX as usize + 1)), libc::EINVAL);
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1, "closed");
    let (a, _b) = socketpair();
    let fd = a.as_raw_fd();
    drop(Conn::new(a, 10).unwrap());
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1, "closed with the connection");
    let (a, _b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(a.as_raw_fd(), 10) }.unwrap();
    assert_eq!(code(conn.read_until(b"", &mut [0u8; 4], Deadline::Immediate)), libc::EINVAL);
}

#[test]
fn a_delimiter_longer_than_a_frame_header_still_fits_a_record_of_the_limit() {
    let (a, b) = socketpair();
    let mut conn = unsafe { Conn::borrowing(b.as_raw_fd(), 6) }.unwrap();
    let delim: &[u8] = b"--boundary--";
    write_raw(a.as_raw_fd(), &[b"abcdef", delim, b"toolong", delim, b"x", delim].concat());
    let mut got = Vec::new();
    for _ in 0..100 {
        match conn.take_record(delim) {
            Ok(Some(r)) => got.push(r.to_vec()),
            Ok(None) => match conn.fill() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => panic!("fill: {e}"),
            },
            Err(e) => got.push(format!("errno {}", e.raw_os_error().unwrap()).into_bytes()),
        }
    }
    let want: Vec<Vec<u8>> = vec![b"abcdef".to_vec(), format!("errno {}", libc::EMSGSIZE).into_bytes(), b"x".to_vec()];
    assert_eq!(got, want);
    assert!(conn.capacities().0 <= 6 + delim.len());
}
