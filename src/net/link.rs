//! Which NIC, sans-IO: the first candidate to report carrier, then round-robin among those with
//! carrier while the metadata service stays silent on the current one.
//!
//! Without `--interface` every non-loopback Ethernet interface is raised at once and the first
//! with carrier (lowest index on a tie) is used, so a slow PHY on one NIC (e1000 takes ~2.5 s)
//! does not hold up another that is ready. On a NIC where nothing answers — no address, no
//! SYN-ACK, no RST — flint moves on to the next NIC with carrier; each full round doubles how
//! long a NIC is given ([`Choice::contact_window`]).

use smoltcp::time::Duration;

/// How long one attempt may wait for the metadata service's first answer on a NIC in the first
/// round when there are several (on the right NIC it answers in milliseconds; a SYN lost on a
/// good link is retransmitted after 1 s, so 2 s still covers one loss); doubled each round up
/// to [`ATTEMPT_MAX`].
pub const CONTACT_MAX: Duration = Duration::from_secs(2);
/// Longest single HTTP attempt (connect to last byte), like Ignition's 10 s header timeout;
/// always also bounded by the budget.
pub const ATTEMPT_MAX: Duration = Duration::from_secs(10);
/// How long address acquisition on one of several NICs may run past `--dhcp-timeout` (the
/// link-local claim settles ~0.5 s after probing starts).
pub const ADDRESS_SPARE: Duration = Duration::from_secs(1);

/// Why the link phase failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The named interface does not exist, or there is no Ethernet interface at all.
    NotFound,
    /// The interface is not Ethernet (no MAC) or has a multicast MAC.
    NotEthernet,
    /// An ioctl or socket call was refused (usually: not root / no CAP_NET_RAW/ADMIN).
    Os(rustix::io::Errno),
    /// No carrier within the budget.
    NoCarrier,
}

/// The NIC choice of one run; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct Choice {
    count: usize,
    current: Option<usize>,
    /// Full rounds over the candidates so far.
    round: u32,
}

impl Choice {
    pub fn new(count: usize) -> Choice {
        Choice { count, current: None, round: 0 }
    }

    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// More than one candidate: a silent NIC is a reason to try another.
    pub fn several(&self) -> bool {
        self.count > 1
    }

    /// The first candidate with carrier, lowest slot first.
    pub fn first(&mut self, carrier: &mut dyn FnMut(usize) -> bool) -> Option<usize> {
        self.current = (0..self.count).find(|&i| carrier(i));
        self.current
    }

    /// The candidate after the current one (in slot order, wrapping) that has carrier now;
    /// `None` when no other has. Wrapping around counts a round.
    pub fn next(&mut self, carrier: &mut dyn FnMut(usize) -> bool) -> Option<usize> {
        let cur = self.current?;
        let next = (1..self.count).map(|k| (cur + k) % self.count).find(|&i| carrier(i))?;
        if next < cur {
            self.round += 1;
        }
        self.current = Some(next);
        Some(next)
    }

    /// How long an attempt may wait for a first answer on the current NIC: the whole
    /// [`ATTEMPT_MAX`] with one NIC or once the service answered here, else the contact window
    /// of this round.
    pub fn contact_window(&self, answered: bool) -> Duration {
        if answered || !self.several() {
            ATTEMPT_MAX
        } else {
            (CONTACT_MAX * (1 << self.round.min(3))).min(ATTEMPT_MAX)
        }
    }

    /// A round just wrapped: every NIC had its turn since the last backoff.
    pub fn wrapped_since(&self, round: u32) -> bool {
        self.round > round
    }

    pub fn round(&self) -> u32 {
        self.round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_carrier_then_round_robin_among_those_with_carrier() {
        let mut c = Choice::new(4);
        let up = [false, true, false, true];
        assert_eq!(c.first(&mut |i| up[i]), Some(1));
        assert_eq!(c.contact_window(false), CONTACT_MAX);
        assert_eq!(c.next(&mut |i| up[i]), Some(3));
        assert_eq!(c.round(), 0);
        assert_eq!(c.next(&mut |i| up[i]), Some(1), "wraps to the first with carrier");
        assert_eq!(c.round(), 1);
        assert_eq!(c.contact_window(false), CONTACT_MAX * 2);
        assert_eq!(c.contact_window(true), ATTEMPT_MAX, "once answered, the full attempt");
        for _ in 0..10 {
            c.next(&mut |i| up[i]);
        }
        assert_eq!(c.contact_window(false), ATTEMPT_MAX, "the window is capped");
    }

    #[test]
    fn one_nic_or_none_with_carrier() {
        let mut c = Choice::new(1);
        assert_eq!(c.first(&mut |_| false), None);
        assert_eq!(c.first(&mut |_| true), Some(0));
        assert_eq!(c.next(&mut |_| true), None, "nothing else to fall back to");
        assert_eq!(c.contact_window(false), ATTEMPT_MAX);
        let mut c = Choice::new(3);
        assert_eq!(c.first(&mut |i| i == 2), Some(2));
        assert_eq!(c.next(&mut |i| i == 2), None, "no other NIC has carrier");
    }
}
