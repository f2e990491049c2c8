//! Recognize how a layer or import stream is compressed by its magic bytes
//! and return a reader of the uncompressed bytes.
//!
//! gzip starts with `1f 8b` (RFC 1952), zstd frames with `28 b5 2f fd`
//! (RFC 8878); anything else is passed through as is and must then be a tar
//! archive, which `unpack` checks (its error says "not a tar archive (nor
//! gzip/zstd compressed tar)"). Concatenated gzip members are read as one
//! stream, as `gzip -d` does. The peeked bytes are put back in front of the
//! stream, so detection works on pipes that deliver one byte at a time.

use std::io::{self, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Classify the first bytes of a stream.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(GZIP) {
        Compression::Gzip
    } else if head.starts_with(ZSTD) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Peek at `reader` and wrap it in the matching decompressor.
pub fn decompress<'a, R: Read + 'a>(mut reader: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let kind = detect(&head[..n]);
    let whole = Cursor::new(head[..n].to_vec()).chain(reader);
    let out: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
    };
    Ok((kind, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Delivers one byte per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn roundtrip(data: &[u8]) -> (Compression, Vec<u8>) {
        let (kind, mut r) = decompress(Trickle(data)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (kind, out)
    }

    #[test]
    fn detects_gzip() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"payload").unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(roundtrip(&gz), (Compression::Gzip, b"payload".to_vec()));
    }

    #[test]
    fn detects_zstd() {
        let z = zstd::encode_all(&b"payload"[..], 3).unwrap();
        assert_eq!(roundtrip(&z), (Compression::Zstd, b"payload".to_vec()));
    }

    #[test]
    fn passes_plain_and_short_input() {
        assert_eq!(roundtrip(b"plain tar bytes"), (Compression::None, b"plain tar bytes".to_vec()));
        assert_eq!(roundtrip(b"\x1f"), (Compression::None, b"\x1f".to_vec()));
        assert_eq!(roundtrip(b""), (Compression::None, Vec::new()));
    }
}
