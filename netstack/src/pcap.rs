//! `--network burrow:pcap=FILE`: every frame on the virtual link, both
//! directions, in the classic pcap format (Ethernet link type) that
//! tcpdump and Wireshark read. Written through a buffer; a write error
//! stops the capture with one warning and never the network.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Pcap {
    out: Option<BufWriter<File>>,
}

const MAGIC: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65_535 + 14;

impl Pcap {
    pub fn create(path: &Path) -> std::io::Result<Pcap> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&MAGIC.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&SNAPLEN.to_le_bytes())?;
        out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
        Ok(Pcap { out: Some(out) })
    }

    pub fn record(&mut self, frame: &[u8]) {
        let Some(out) = &mut self.out else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = frame.len() as u32;
        let kept = len.min(SNAPLEN);
        let res = (|| {
            out.write_all(&(now.as_secs() as u32).to_le_bytes())?;
            out.write_all(&now.subsec_micros().to_le_bytes())?;
            out.write_all(&kept.to_le_bytes())?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(&frame[..kept as usize])
        })();
        if let Err(e) = res {
            tracing::warn!(%e, "stopping the packet capture");
            self.out = None;
        }
    }

    pub fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_and_record() {
        let dir = std::env::temp_dir().join(format!("burrow-pcap-{}", std::process::id()));
        let mut p = super::Pcap::create(&dir).unwrap();
        p.record(&[1, 2, 3]);
        p.flush();
        let bytes = std::fs::read(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 3);
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
        assert_eq!(&bytes[24 + 8..24 + 12], &3u32.to_le_bytes());
    }
}
