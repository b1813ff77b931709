//! Who sent a request: the TCP peer, or, when the peer is a proxy on this machine, the address
//! that proxy appended to `X-Forwarded-For`. The per-address intake limit counts by this.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The TCP peer of a request's connection, put in the request's extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The client address a request counts against. A loopback peer is the TLS proxy the README
/// recommends; the last `X-Forwarded-For` entry is the one it added (earlier ones are whatever
/// the client claimed). Anything else is the peer itself: a remote client cannot pick its
/// bucket with a header.
pub fn client_ip(peer: Option<PeerAddr>, headers: &HeaderMap) -> IpAddr {
    let Some(PeerAddr(peer)) = peer else {
        // Router tests without a socket: all one bucket.
        return IpAddr::from([0, 0, 0, 0]);
    };
    if !peer.ip().is_loopback() {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn peer(s: &str) -> Option<PeerAddr> {
        Some(PeerAddr(s.parse().unwrap()))
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_local_proxy() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        assert_eq!(
            client_ip(peer("127.0.0.1:5000"), &h),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer("198.51.100.7:5000"), &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer("127.0.0.2:1"), &HeaderMap::new()),
            "127.0.0.2".parse::<IpAddr>().unwrap()
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(
            client_ip(peer("[::1]:9"), &h),
            "::1".parse::<IpAddr>().unwrap()
        );
    }
}
