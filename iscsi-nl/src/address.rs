//! The TargetAddress value (RFC 7143 13.8): `domainname[:port][,portal-group-tag]`, where
//! the domain name is a DNS name, an IPv4 address, or an IPv6 address in brackets.
//!
//! Targets send it in SendTargets answers and in login redirections.
//!
//! ```
//! use iscsi_nl::address::TargetAddress;
//!
//! let a: TargetAddress = "[2001:db8::1]:3261,2".parse().unwrap();
//! assert_eq!((a.host.as_str(), a.port, a.tpgt), ("2001:db8::1", 3261, Some(2)));
//! let b: TargetAddress = "10.0.0.1".parse().unwrap();
//! assert_eq!((b.port, b.tpgt), (iscsi_nl::address::DEFAULT_PORT, None));
//! ```

/// The well-known iSCSI port (RFC 7143 13.8), used when an address names none.
pub const DEFAULT_PORT: u16 = 3260;

/// A parsed TargetAddress.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetAddress {
    /// The host: a DNS name, an IPv4 address, or an IPv6 address without its brackets.
    pub host: String,
    /// The TCP port ([`DEFAULT_PORT`] when absent).
    pub port: u16,
    /// The portal group tag, when given.
    pub tpgt: Option<u16>,
}

/// Why a TargetAddress could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The host part is empty.
    #[error("target address {0:?} has no host")]
    EmptyHost(String),
    /// The port is not a number from 0 to 65535.
    #[error("target address {0:?} has an invalid port")]
    InvalidPort(String),
    /// The portal group tag is not a number from 0 to 65535.
    #[error("target address {0:?} has an invalid portal group tag")]
    InvalidTag(String),
    /// An IPv6 address lacks its closing bracket, or text follows it other than `:port`;
    /// or an IPv6 address is not in brackets.
    #[error("target address {0:?} is malformed")]
    Malformed(String),
}

fn number(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl core::str::FromStr for TargetAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let whole = || s.to_owned();
        let (hostport, tpgt) = match s.rsplit_once(',') {
            Some((hp, tag)) => {
                (hp, Some(number(tag).ok_or_else(|| AddressError::InvalidTag(whole()))?))
            }
            None => (s, None),
        };
        let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
            let (host, after) =
                rest.split_once(']').ok_or_else(|| AddressError::Malformed(whole()))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| AddressError::Malformed(whole()))?),
            };
            (host, port)
        } else {
            match hostport.split_once(':') {
                Some((_, rest)) if rest.contains(':') => {
                    return Err(AddressError::Malformed(whole()));
                }
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(AddressError::EmptyHost(whole()));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => number(p).ok_or_else(|| AddressError::InvalidPort(whole()))?,
        };
        Ok(TargetAddress { host: host.to_owned(), port, tpgt })
    }
}

impl core::fmt::Display for TargetAddress {
    /// The address as sent: IPv6 hosts in brackets, the port always, the tag when known.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        match self.tpgt {
            Some(t) => write!(f, ",{t}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TargetAddress, AddressError> {
        s.parse()
    }

    fn ok(s: &str) -> (String, u16, Option<u16>) {
        let a = parse(s).unwrap();
        (a.host, a.port, a.tpgt)
    }

    #[test]
    fn forms() {
        assert_eq!(ok("10.0.0.1"), ("10.0.0.1".into(), 3260, None));
        assert_eq!(ok("10.0.0.1:3261"), ("10.0.0.1".into(), 3261, None));
        assert_eq!(ok("10.0.0.1,1"), ("10.0.0.1".into(), 3260, Some(1)));
        assert_eq!(
            ok("iscsi.example.com:3260,65535"),
            ("iscsi.example.com".into(), 3260, Some(65535))
        );
        assert_eq!(ok("[::1]"), ("::1".into(), 3260, None));
        assert_eq!(ok("[fe80::1%eth0]:860,3"), ("fe80::1%eth0".into(), 860, Some(3)));
    }

    #[test]
    fn errors() {
        assert!(matches!(parse(""), Err(AddressError::EmptyHost(_))));
        assert!(matches!(parse(":3260"), Err(AddressError::EmptyHost(_))));
        assert!(matches!(parse("[]:3260"), Err(AddressError::EmptyHost(_))));
        assert!(matches!(parse("h:65536"), Err(AddressError::InvalidPort(_))));
        assert!(matches!(parse("h:"), Err(AddressError::InvalidPort(_))));
        assert!(matches!(parse("h:+1"), Err(AddressError::InvalidPort(_))));
        assert!(matches!(parse("h,x"), Err(AddressError::InvalidTag(_))));
        assert!(matches!(parse("h,"), Err(AddressError::InvalidTag(_))));
        assert!(matches!(parse("[::1"), Err(AddressError::Malformed(_))));
        assert!(matches!(parse("[::1]x"), Err(AddressError::Malformed(_))));
        assert!(matches!(parse("2001:db8::1"), Err(AddressError::Malformed(_))));
    }

    #[test]
    fn display_round_trips() {
        for s in ["10.0.0.1:3260,1", "[2001:db8::2]:3261,7", "host:1"] {
            assert_eq!(parse(s).unwrap().to_string(), s);
            assert_eq!(parse(&parse(s).unwrap().to_string()).unwrap(), parse(s).unwrap());
        }
    }
}
