//! Reading an answer: its head as far as the client needs it ([`Head`]:
//! status, framing, whether the connection may be reused) and its body's
//! framing — a length, chunked transfer coding (decoded as the bytes
//! arrive), or until the server closes.

use anyhow::{bail, Context, Result};
use bytes::{Buf, BytesMut};

/// Answer heads larger than this are refused.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// Headers an answer may have.
pub(super) const MAX_HEADERS: usize = 32;

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(usize),
    Chunked(Chunked),
    /// Until the server closes the connection.
    UntilClose,
}

impl Framing {
    /// Moves the body's bytes that `buf` holds to `out`; true once the body
    /// is complete (never for [`Framing::UntilClose`]: the server's close
    /// ends it).
    pub(super) fn take(&mut self, buf: &mut BytesMut, out: &mut Vec<u8>) -> Result<bool> {
        match self {
            Framing::Length(left) => {
                let n = (*left).min(buf.len());
                out.extend_from_slice(&buf[..n]);
                buf.advance(n);
                *left -= n;
                Ok(*left == 0)
            }
            Framing::Chunked(chunked) => chunked.decode(buf, out),
            Framing::UntilClose => {
                out.extend_from_slice(buf);
                buf.clear();
                Ok(false)
            }
        }
    }
}

/// An answer's head, as far as this client needs it.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) framing: Framing,
    /// The connection cannot be used again after this answer.
    pub(super) close: bool,
}

impl Head {
    pub(super) fn of(res: &httparse::Response<'_, '_>) -> Result<Self> {
        let status = res.code.context("answer without a status")?;
        let mut framing = None;
        let mut close = res.version == Some(0);
        for h in res.headers.iter() {
            let value = std::str::from_utf8(h.value).unwrap_or_default();
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if value.to_ascii_lowercase().contains("chunked") {
                    framing = Some(Framing::Chunked(Chunked::default()));
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                if framing.is_none() {
                    let n = value
                        .trim()
                        .parse()
                        .with_context(|| format!("bad content-length {value:?}"))?;
                    framing = Some(Framing::Length(n));
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                let value = value.to_ascii_lowercase();
                if value.contains("close") {
                    close = true;
                } else if value.contains("keep-alive") {
                    close = false;
                }
            }
        }
        let framing = match framing {
            Some(f) => f,
            None if status == 204 || status == 304 => Framing::Length(0),
            None => {
                close = true;
                Framing::UntilClose
            }
        };
        Ok(Self {
            status,
            framing,
            close,
        })
    }
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Chunked {
    /// Before a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk, this many bytes to go.
    Data(usize),
    /// Before the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk, in the trailer.
    Trailer,
    Done,
}

/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

impl Chunked {
    /// Moves the body's bytes that `buf` completes to `out`, consuming the
    /// framing; true once the last chunk and the trailer have been read.
    fn decode(&mut self, buf: &mut BytesMut, out: &mut Vec<u8>) -> Result<bool> {
        loop {
            match *self {
                Chunked::Size | Chunked::Trailer => {
                    let Some(end) = find_crlf(buf) else {
                        if buf.len() > MAX_CHUNK_LINE {
                            bail!("chunk line longer than {MAX_CHUNK_LINE} bytes");
                        }
                        return Ok(false);
                    };
                    if *self == Chunked::Trailer {
                        buf.advance(end + 2);
                        if end == 0 {
                            *self = Chunked::Done;
                        }
                        continue;
                    }
                    let line = std::str::from_utf8(&buf[..end]).context("chunk size")?;
                    let hex = line.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(hex, 16)
                        .with_context(|| format!("bad chunk size {hex:?}"))?;
                    buf.advance(end + 2);
                    *self = if size == 0 {
                        Chunked::Trailer
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(buf.len());
                    out.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    *self = if n == left {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left - n)
                    };
                }
                Chunked::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(false);
                    }
                    if &buf[..2] != b"\r\n" {
                        bail!("chunk data not followed by CRLF");
                    }
                    buf.advance(2);
                    *self = Chunked::Size;
                }
                Chunked::Done => return Ok(true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_whatever_the_reads_split() {
        let wire = b"4\r\nWiki\r\n6;name=v\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";
        for step in 1..=wire.len() {
            let mut chunked = Chunked::default();
            let (mut buf, mut out, mut done) = (BytesMut::new(), Vec::new(), false);
            for piece in wire.chunks(step) {
                assert!(!done, "done before the end (step {step})");
                buf.extend_from_slice(piece);
                done = chunked.decode(&mut buf, &mut out).unwrap();
            }
            assert!(done, "step {step}");
            assert_eq!(out, b"Wikipedia in \r\n\r\nchunks.", "step {step}");
            assert!(buf.is_empty());
        }
        let mut chunked = Chunked::default();
        let mut buf = BytesMut::from(&b"zz\r\n"[..]);
        assert!(chunked.decode(&mut buf, &mut Vec::new()).is_err());
        let mut chunked = Chunked::default();
        let mut buf = BytesMut::from(&b"2\r\nabXY"[..]);
        assert!(chunked.decode(&mut buf, &mut Vec::new()).is_err());
    }
}
