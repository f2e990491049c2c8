//! The TAP device as smoltcp sees it.
//!
//! The stack reads frames itself (`read_frame`), classifies them and queues
//! the ones smoltcp must handle (`queue`); smoltcp's `receive` takes from
//! that queue. Every frame towards the container, from smoltcp or from the
//! UDP and ICMP paths, goes through `Writer::send`: one `write(2)` per
//! frame on the non-blocking TAP descriptor (the kernel takes it straight
//! into the container's stack). A frame the kernel refuses is counted and
//! dropped; TCP retransmits it. An optional pcap file sees both directions.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use std::os::fd::{AsRawFd, OwnedFd};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::pcap::Pcap;

/// Largest frame on the link: the MTU plus the Ethernet header.
pub fn frame_len(mtu: u32) -> usize {
    mtu as usize + 14
}

/// Writes frames to the container.
pub struct Writer {
    fd: OwnedFd,
    pub pcap: Option<Pcap>,
    scratch: Vec<u8>,
    pub sent: u64,
    pub refused: u64,
}

impl Writer {
    pub fn send(&mut self, frame: &[u8]) {
        if let Some(p) = &mut self.pcap {
            p.record(frame);
        }
        // SAFETY: writing from a valid slice to a descriptor we own.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            self.refused += 1;
            tracing::trace!(err = %io::Error::last_os_error(), "TAP refused a frame");
        } else {
            self.sent += 1;
        }
    }
}

/// The device: the descriptor, the queue of frames for smoltcp, a pool of
/// buffers.
pub struct Tap {
    pub writer: Writer,
    rx: VecDeque<Vec<u8>>,
    /// Frame buffers of `frame_len(mtu)` bytes, initialised once and reused
    /// (zeroing 64 KiB per frame would cost more than the frame).
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
    mtu: u32,
}

const POOL: usize = 64;

impl Tap {
    pub fn new(fd: OwnedFd, mtu: u32, pcap: Option<Pcap>) -> io::Result<Tap> {
        set_nonblocking(&fd)?;
        Ok(Tap {
            writer: Writer { fd, pcap, scratch: Vec::new(), sent: 0, refused: 0 },
            rx: VecDeque::new(),
            pool: Arc::new(Mutex::new(Vec::new())),
            mtu,
        })
    }

    pub fn raw_fd(&self) -> i32 {
        self.writer.fd.as_raw_fd()
    }

    /// Read one frame; `None` when nothing is waiting.
    pub fn read_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let full = frame_len(self.mtu);
        let mut buf = match self.pool.lock().map_or(None, |mut p| p.pop()) {
            Some(mut b) => {
                // SAFETY: pooled buffers were filled with zeros up to `full`
                // when made and only truncated since, so every byte is
                // initialised.
                unsafe { b.set_len(full) };
                b
            }
            None => vec![0u8; full],
        };
        // SAFETY: reading into a valid buffer of the given length.
        let n = unsafe { libc::read(self.writer.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            self.recycle(buf);
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        buf.truncate(n as usize);
        if let Some(p) = &mut self.writer.pcap {
            p.record(&buf);
        }
        Ok(Some(buf))
    }

    /// Hand a frame to smoltcp at its next poll.
    pub fn queue(&mut self, frame: Vec<u8>) {
        self.rx.push_back(frame);
    }

    /// Give a buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        give_back(&self.pool, buf, frame_len(self.mtu));
    }
}

fn give_back(pool: &Mutex<Vec<Vec<u8>>>, buf: Vec<u8>, full: usize) {
    let Ok(mut pool) = pool.lock() else { return };
    if pool.len() < POOL && buf.capacity() >= full {
        pool.push(buf);
    }
}

pub struct RxToken {
    frame: Vec<u8>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
    full: usize,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.frame);
        give_back(&self.pool, self.frame, self.full);
        r
    }
}

pub struct TxToken<'a>(&'a mut Writer);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = std::mem::take(&mut self.0.scratch);
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.0.send(&buf);
        self.0.scratch = buf;
        r
    }
}

impl phy::Device for Tap {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        let token = RxToken { frame, pool: self.pool.clone(), full: frame_len(self.mtu) };
        Some((token, TxToken(&mut self.writer)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.writer))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = frame_len(self.mtu);
        caps
    }
}

pub fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we hold.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
