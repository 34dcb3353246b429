//! The observables OTX knows, as Cisco's relay names and files them: the `general` section
//! each is looked up in, OTX's indicator type for it, the refer link's category and the name
//! its link calls it; and what one lookup is ([`Query`]).

use std::net::IpAddr;

use xdr_relay_core::ParsedObservable;
use xdr_relay_core::ctim_model::ObservableType;

/// An observable type the relay answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Ip,
    Ipv6,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    /// Refer only: OTX has no `general` section for email addresses.
    Email,
}

/// The observable types of [`Kind`], as the relay declares them.
pub(crate) const TYPES: [ObservableType; 8] = [
    ObservableType::Ip,
    ObservableType::Ipv6,
    ObservableType::Domain,
    ObservableType::Url,
    ObservableType::Md5,
    ObservableType::Sha1,
    ObservableType::Sha256,
    ObservableType::Email,
];

impl Kind {
    /// The kind of an observable type, when the relay answers for it.
    pub(crate) fn of(kind: &ObservableType) -> Option<Self> {
        Some(match kind {
            ObservableType::Ip => Self::Ip,
            ObservableType::Ipv6 => Self::Ipv6,
            ObservableType::Domain => Self::Domain,
            ObservableType::Url => Self::Url,
            ObservableType::Md5 => Self::Md5,
            ObservableType::Sha1 => Self::Sha1,
            ObservableType::Sha256 => Self::Sha256,
            ObservableType::Email => Self::Email,
            _ => return None,
        })
    }

    /// What a refer link calls it (`Search for this IP`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ip => "IP",
            Self::Ipv6 => "IPv6",
            Self::Domain => "domain",
            Self::Url => "URL",
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Email => "email",
        }
    }

    /// The category of its OTX page (`{web}indicator/{category}/{value}`).
    pub(crate) fn category(self) -> &'static str {
        match self {
            Self::Ip | Self::Ipv6 => "ip",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Md5 | Self::Sha1 | Self::Sha256 => "file",
            Self::Email => "email",
        }
    }
}

/// One lookup: the `general` section, OTX's indicator type and the value asked for (an
/// address as it is canonically written, a domain or hash in lower case, a URL as sent), so
/// that one observable written two ways costs one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Query {
    section: &'static str,
    indicator_type: &'static str,
    value: String,
    ip: Option<IpAddr>,
}

impl Query {
    /// The lookup of `observable`; `None` for what OTX cannot look up (an email address, a
    /// value of dots alone, which no URL path can carry as one segment).
    pub(crate) fn of(observable: &ParsedObservable) -> Option<Self> {
        let kind = Kind::of(observable.kind())?;
        let value = observable.value();
        let lower = || value.to_lowercase();
        let (section, indicator_type, value, ip) = match kind {
            Kind::Ip | Kind::Ipv6 => {
                let ip = observable.ip()?.to_canonical();
                let (section, kind) = if ip.is_ipv4() {
                    ("IPv4", "IPv4")
                } else {
                    ("IPv6", "IPv6")
                };
                (section, kind, ip.to_string(), Some(ip))
            }
            Kind::Domain => ("domain", "domain", lower(), None),
            Kind::Url => ("url", "URL", value.to_owned(), None),
            Kind::Md5 => ("file", "FileHash-MD5", lower(), None),
            Kind::Sha1 => ("file", "FileHash-SHA1", lower(), None),
            Kind::Sha256 => ("file", "FileHash-SHA256", lower(), None),
            Kind::Email => return None,
        };
        if value.chars().all(|c| c == '.') {
            return None;
        }
        Some(Self {
            section,
            indicator_type,
            value,
            ip,
        })
    }

    /// The `general` section: `IPv4`, `IPv6`, `domain`, `url` or `file`.
    pub(crate) fn section(&self) -> &'static str {
        self.section
    }

    /// OTX's indicator type (`base_indicator.type`, a key of a pulse's
    /// `indicator_type_counts`).
    pub(crate) fn indicator_type(&self) -> &'static str {
        self.indicator_type
    }

    /// The value asked for.
    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    /// Whether a pulse's `indicator` is this observable: the same address, the same domain or
    /// hash in any case, the same URL.
    pub(crate) fn matches(&self, indicator: &str) -> bool {
        match self.ip {
            Some(ip) => indicator
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|i| i.to_canonical() == ip),
            None if self.indicator_type == "URL" => indicator == self.value,
            None => indicator.eq_ignore_ascii_case(&self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(kind: ObservableType, value: &str) -> Option<Query> {
        Query::of(&ParsedObservable::new(kind, value).unwrap())
    }

    #[test]
    fn observables_are_looked_up_in_ciscos_sections() {
        for (kind, value, section, indicator_type, asked) in [
            (ObservableType::Ip, "192.0.2.1", "IPv4", "IPv4", "192.0.2.1"),
            (
                ObservableType::Ip,
                "::ffff:192.0.2.1",
                "IPv4",
                "IPv4",
                "192.0.2.1",
            ),
            (
                ObservableType::Ipv6,
                "2001:DB8::1",
                "IPv6",
                "IPv6",
                "2001:db8::1",
            ),
            (
                ObservableType::Domain,
                "Evil.Example",
                "domain",
                "domain",
                "evil.example",
            ),
            (
                ObservableType::Url,
                "http://A.example/X",
                "url",
                "URL",
                "http://A.example/X",
            ),
            (
                ObservableType::Md5,
                "D8414D743778CAE103C15461200EC64D",
                "file",
                "FileHash-MD5",
                "d8414d743778cae103c15461200ec64d",
            ),
            (
                ObservableType::Sha1,
                "4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45",
                "file",
                "FileHash-SHA1",
                "4f79d1a01b9b5cb3cb65a9911db2a02ea3bb7c45",
            ),
            (
                ObservableType::Sha256,
                "efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d",
                "file",
                "FileHash-SHA256",
                "efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d",
            ),
        ] {
            let q = query(kind, value).unwrap();
            assert_eq!(
                (q.section(), q.indicator_type(), q.value()),
                (section, indicator_type, asked),
                "{value}"
            );
        }
        assert_eq!(query(ObservableType::Email, "a@b.example"), None);
        assert_eq!(query(ObservableType::Domain, ".."), None);
        assert_eq!(query(ObservableType::Hostname, "a.example"), None);
    }

    #[test]
    fn entries_match_as_their_kind_compares() {
        let ip = query(ObservableType::Ipv6, "2001:db8::1").unwrap();
        assert!(ip.matches("2001:DB8:0::1"));
        assert!(!ip.matches("2001:db8::2"));
        let domain = query(ObservableType::Domain, "evil.example").unwrap();
        assert!(domain.matches("EVIL.example"));
        assert!(!domain.matches("evil.example.org"));
        let url = query(ObservableType::Url, "http://a.example/X").unwrap();
        assert!(url.matches("http://a.example/X"));
        assert!(!url.matches("http://a.example/x"));
    }

    #[test]
    fn every_type_has_ciscos_names() {
        let names: Vec<(&str, &str)> = TYPES
            .iter()
            .map(|t| Kind::of(t).unwrap())
            .map(|k| (k.name(), k.category()))
            .collect();
        assert_eq!(
            names,
            [
                ("IP", "ip"),
                ("IPv6", "ip"),
                ("domain", "domain"),
                ("URL", "url"),
                ("MD5", "file"),
                ("SHA1", "file"),
                ("SHA256", "file"),
                ("email", "email"),
            ]
        );
    }
}
