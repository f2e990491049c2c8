//! Counters of one container's network, logged when it stops and returned
//! to the caller: what was carried, what was refused and what was dropped,
//! by reason. Cheap enough to keep always on.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames the kernel's TAP queue did not take.
    pub frames_refused_by_tap: u64,
    /// Frames from the container dropped before the stack, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    pub tcp_opened: u64,
    pub udp_opened: u64,
    pub icmp_opened: u64,
    pub inbound_accepted: u64,
    /// Flows the forwarding decision refused.
    pub refused: u64,
    /// Flows refused because a table was full, or evicted to make room.
    pub over_limit: u64,
}

impl Stats {
    pub fn drop(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
    }
}
