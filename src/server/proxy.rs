//! Trusted TLS-terminating proxies: the opt-in under which a request that reached the plain
//! HTTP listener counts as having travelled over TLS, for SSE-C.
//!
//! Only the connection's peer address decides whether the forwarding headers are believed;
//! from any other peer they are ignored, since a client could send them itself. The setting
//! is empty by default, so SSE-C needs a TLS connection to the gateway.

use std::net::IpAddr;

use http::HeaderMap;

use super::ConnInfo;

/// A list of IP addresses and CIDR blocks (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses each entry; the error names the first bad one.
    pub(crate) fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let bad = || format!("trusted proxy {entry:?} is not an IP address or CIDR block");
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(bad)?,
                None => max,
            };
            nets.push((addr, len));
        }
        Ok(TrustedProxies { nets })
    }

    /// Whether `ip` is one of the trusted addresses (IPv4-mapped IPv6 counts as IPv4).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets
            .iter()
            .any(|(net, len)| same_prefix(*net, ip, *len))
    }

    /// Whether a request on `conn` with `headers` counts as arriving over TLS: a TLS
    /// connection, or a trusted proxy's connection saying the client used https.
    pub(crate) fn request_is_tls(&self, conn: &ConnInfo, headers: &HeaderMap) -> bool {
        conn.tls || (self.contains(conn.peer.ip()) && forwarded_https(headers))
    }
}

fn same_prefix(net: IpAddr, ip: IpAddr, len: u8) -> bool {
    let (a, b): (u128, u128) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n).into(), u32::from(i).into()),
        (IpAddr::V6(n), IpAddr::V6(i)) => (n.into(), i.into()),
        _ => return false,
    };
    let bits = if net.is_ipv4() { 32 } else { 128 };
    let shift = bits - u32::from(len);
    if shift >= 128 {
        return true;
    }
    (a >> shift) == (b >> shift)
}

/// `X-Forwarded-Proto: https` or `Forwarded: ...proto=https` (RFC 7239). With several proxies
/// in line the first (client-facing) hop is what counts.
fn forwarded_https(headers: &HeaderMap) -> bool {
    if let Some(v) = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        return v
            .split(',')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    }
    let Some(v) = headers.get("forwarded").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let first_hop = v.split(',').next().unwrap_or_default();
    first_hop.split(';').any(|pair| {
        pair.split_once('=').is_some_and(|(k, val)| {
            k.trim().eq_ignore_ascii_case("proto")
                && val.trim().trim_matches('"').eq_ignore_ascii_case("https")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(peer: &str, tls: bool) -> ConnInfo {
        ConnInfo {
            tls,
            peer: peer.parse().unwrap(),
            tls_version: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_addresses_and_blocks() {
        let p = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).unwrap();
        assert!(p.contains("127.0.0.1".parse().unwrap()));
        assert!(!p.contains("127.0.0.2".parse().unwrap()));
        assert!(p.contains("10.200.3.4".parse().unwrap()));
        assert!(!p.contains("11.0.0.1".parse().unwrap()));
        assert!(p.contains("fd12::1".parse().unwrap()));
        assert!(p.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(
            TrustedProxies::parse(&["0.0.0.0/0"])
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "localhost", "1.2.3.4/x", "::1/129"] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_counts_only_from_a_trusted_peer() {
        let p = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        let xfp = headers(&[("x-forwarded-proto", "https")]);
        assert!(p.request_is_tls(&conn("127.0.0.1:5000", false), &xfp));
        assert!(!p.request_is_tls(&conn("127.0.0.2:5000", false), &xfp));
        assert!(!p.request_is_tls(&conn("127.0.0.1:5000", false), &HeaderMap::new()));
        assert!(!TrustedProxies::default().request_is_tls(&conn("127.0.0.1:5000", false), &xfp));
        let fwd = headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https, for=10.0.0.1;proto=http",
        )]);
        assert!(p.request_is_tls(&conn("127.0.0.1:5000", false), &fwd));
        let http = headers(&[("x-forwarded-proto", "http")]);
        assert!(!p.request_is_tls(&conn("127.0.0.1:5000", false), &http));
        assert!(p.request_is_tls(&conn("8.8.8.8:443", true), &HeaderMap::new()));
    }
}
