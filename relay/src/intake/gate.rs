//! Admission to webhook intake, decided from the request line and headers alone, before a body
//! byte is read: a global cap on requests in flight, a cap per client address (so one host cannot
//! take every slot), and a budget for large bodies (so stalled uploads cannot buffer more than
//! it). Twitch's bodies are a few KiB: they never touch the large-body budget, so uploads that
//! exhaust it cannot starve real notifications. A request that does not fit is shed with 503
//! and Twitch re-delivers it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Webhooks being read, verified or stored at once.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Webhooks in flight from one client address. Twitch's deliveries are small and answered in
/// milliseconds, so even a burst from one Twitch host stays far below this.
pub const MAX_IN_FLIGHT_PER_ADDRESS: u32 = 128;
/// Bodies up to this size need only an intake slot (so at most `MAX_IN_FLIGHT` times this).
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// Declared bytes of larger bodies in flight at once: what stalled uploads can make the relay
/// buffer beyond the small ones.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// Budget unit; a request takes its declared length rounded up to it.
const BUDGET_UNIT: usize = 1024;
/// Every body gets this long, whatever its size...
const BODY_GRACE: Duration = Duration::from_secs(5);
/// ...plus its length at this rate (bytes per second). Twitch sends a few KiB at once.
const MIN_BODY_RATE: u64 = 16 * 1024;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Every intake slot is taken.
    Full,
    /// This address has [`MAX_IN_FLIGHT_PER_ADDRESS`] in flight.
    Address,
    /// The large-body budget is spent.
    Budget,
}

/// The intake's limits; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gate {
    slots: Arc<Semaphore>,
    budget: Arc<Semaphore>,
    // Held only to count, never across an await.
    per_address: Arc<Mutex<HashMap<IpAddr, u32>>>,
    max_per_address: u32,
}

/// A request's place in intake; dropping it gives everything back.
#[derive(Debug)]
pub struct Admission {
    _slot: OwnedSemaphorePermit,
    _budget: Option<OwnedSemaphorePermit>,
    address: AddressSlot,
}

#[derive(Debug)]
struct AddressSlot {
    gate: Gate,
    ip: IpAddr,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new(MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ADDRESS, BODY_BUDGET_BYTES)
    }
}

impl Gate {
    /// A gate with these limits.
    pub fn new(slots: usize, per_address: u32, budget_bytes: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            budget: Arc::new(Semaphore::new(budget_bytes.div_ceil(BUDGET_UNIT))),
            per_address: Arc::default(),
            max_per_address: per_address,
        }
    }

    /// Admits a request from `ip` declaring `body_len` bytes, or says why not.
    pub fn admit(&self, ip: IpAddr, body_len: usize) -> Result<Admission, Shed> {
        let address = self.take_address(ip)?;
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Shed::Full)?;
        let budget = if body_len > SMALL_BODY_BYTES {
            let units = u32::try_from(body_len.div_ceil(BUDGET_UNIT)).unwrap_or(u32::MAX);
            let permit = self.budget.clone().try_acquire_many_owned(units);
            Some(permit.map_err(|_| Shed::Budget)?)
        } else {
            None
        };
        Ok(Admission {
            _slot: slot,
            _budget: budget,
            address,
        })
    }

    fn take_address(&self, ip: IpAddr) -> Result<AddressSlot, Shed> {
        let ip = bucket(ip);
        let mut map = self.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max_per_address {
            return Err(Shed::Address);
        }
        *n += 1;
        Ok(AddressSlot {
            gate: self.clone(),
            ip,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.per_address.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Admission {
    /// The address it counts against.
    pub fn ip(&self) -> IpAddr {
        self.address.ip
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.gate.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The address a request counts against: an IPv4 address, or an IPv6 /64 (one host is given a
/// whole /64, so counting single IPv6 addresses would give an attacker endless buckets).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

/// How long a body of `len` bytes may take to arrive: a few seconds plus its length at the
/// minimum rate, so a trickle is cut off quickly and a large honest body still fits.
pub fn body_deadline(len: usize) -> Duration {
    BODY_GRACE + Duration::from_millis((len as u64).saturating_mul(1000) / MIN_BODY_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let gate = Gate::new(10, 3, 1 << 20);
        let held: Vec<_> = (0..3)
            .map(|_| gate.admit(ip("10.0.0.1"), 100).unwrap())
            .collect();
        assert_eq!(gate.admit(ip("10.0.0.1"), 100).unwrap_err(), Shed::Address);
        assert!(gate.admit(ip("10.0.0.2"), 100).is_ok());
        drop(held);
        assert!(gate.admit(ip("10.0.0.1"), 100).is_ok());
        assert!(gate.lock().is_empty(), "released addresses leave no entry");
    }

    #[test]
    fn slots_and_budget_are_given_back() {
        let gate = Gate::new(3, 10, 200 * 1024);
        let big = 100 * 1024;
        let a = gate.admit(ip("10.0.0.1"), big).unwrap();
        let _b = gate.admit(ip("10.0.0.2"), big).unwrap();
        // The large-body budget is spent, but a Twitch-sized body still gets in.
        assert_eq!(gate.admit(ip("10.0.0.3"), big).unwrap_err(), Shed::Budget);
        let small = gate.admit(ip("10.0.0.3"), 2_000).unwrap();
        assert_eq!(gate.admit(ip("10.0.0.4"), 10).unwrap_err(), Shed::Full);
        drop((a, small));
        let c = gate.admit(ip("10.0.0.3"), big).unwrap();
        drop(c);
        assert_eq!(gate.lock().get(&ip("10.0.0.3")), None);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let gate = Gate::new(10, 2, 1 << 20);
        let _a = gate.admit(ip("2001:db8:1:2::1"), 10).unwrap();
        let _b = gate.admit(ip("2001:db8:1:2:ffff::9"), 10).unwrap();
        assert_eq!(
            gate.admit(ip("2001:db8:1:2::77"), 10).unwrap_err(),
            Shed::Address
        );
        assert!(gate.admit(ip("2001:db8:1:3::1"), 10).is_ok());
        let _c = gate.admit(ip("::ffff:10.0.0.1"), 10).unwrap();
        let _d = gate.admit(ip("10.0.0.1"), 10).unwrap();
        assert_eq!(gate.admit(ip("10.0.0.1"), 10).unwrap_err(), Shed::Address);
    }

    #[test]
    fn deadline_grows_with_the_declared_length() {
        assert_eq!(body_deadline(0), BODY_GRACE);
        assert!(body_deadline(2_000) < Duration::from_secs(6));
        assert_eq!(
            body_deadline(1024 * 1024),
            BODY_GRACE + Duration::from_secs(64)
        );
    }
}
