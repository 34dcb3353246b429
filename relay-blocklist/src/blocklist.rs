//! Blocklist files and their lookup: one IPv4 or IPv6 address or CIDR network per line, as
//! FireHOL netsets and Spamhaus DROP lists are published.
//!
//! A list is kept as sorted, merged ranges (IPv4 in `u32`, IPv6 in `u128`), so a lookup is one
//! binary search, and overlapping or adjacent entries cost nothing. An IPv4 list of more than a
//! few ranges also gets an index by the addresses' first bits (about one bucket per range, at
//! most 2^16, so at most 4 bytes a range and 256 KiB), so its binary search covers a bucket's
//! few ranges instead of the whole list: the cost stays nearly flat from one entry to millions.
//! No I/O besides reading the file; `benches/lookup.rs` measures it.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

/// Why a list could not be loaded. A bad line fails the whole file (with its path and line
/// number) rather than being skipped: a list that silently lost entries would let listed
/// addresses through, and on a reload the lists already loaded stay in use.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read (missing, unreadable, not UTF-8).
    #[error("{path}: cannot read the list: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A line is neither an address, a network, a comment nor blank.
    #[error("{path}:{line}: not an IP address or CIDR network: {text:?}")]
    Syntax {
        /// The file.
        path: String,
        /// The line's number, from 1.
        line: usize,
        /// The line, quoted in the message.
        text: String,
    },
    /// Two files would give two lists one name (the file name without its extension).
    #[error("{path}: another list is already named {name:?} (lists are named after their files)")]
    DuplicateName {
        /// The second file of that name.
        path: String,
        /// The name both files give their list.
        name: String,
    },
}

/// An address type whose ranges can be merged: its successor, if any.
trait Address: Copy + Ord {
    fn successor(self) -> Option<Self>;
}

impl Address for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Address for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorts `ranges` (inclusive `(first, last)` pairs) and merges those that overlap or touch.
fn merge<A: Address>(mut ranges: Vec<(A, A)>) -> Vec<(A, A)> {
    ranges.sort_unstable();
    let mut merged: Vec<(A, A)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            // Overlaps or touches the previous range (whose end has no successor when it is
            // the last address: then everything after it is already inside).
            Some(previous) if previous.1.successor().is_none_or(|next| first <= next) => {
                previous.1 = previous.1.max(last);
            }
            _ => merged.push((first, last)),
        }
    }
    merged.shrink_to_fit();
    merged
}

/// Whether `address` is in one of the sorted, merged `ranges`: one binary search.
fn find<A: Address>(ranges: &[(A, A)], address: A) -> bool {
    find_between(ranges, (0, ranges.len()), address)
}

/// [`find`], knowing that the ranges before `window.0` start at or before `address` and those
/// from `window.1` on start after it: the binary search covers the window only.
fn find_between<A: Address>(ranges: &[(A, A)], window: (usize, usize), address: A) -> bool {
    let (lo, hi) = window;
    let inside = ranges.get(lo..hi).unwrap_or_default();
    // The ranges that start at or before `address`; only the last of them can contain it.
    let after = lo + inside.partition_point(|&(first, _)| first <= address);
    after
        .checked_sub(1)
        .and_then(|i| ranges.get(i))
        .is_some_and(|&(_, last)| address <= last)
}

/// IPv4 lists of fewer ranges than this have no index: a binary search of a cache line or two.
const INDEXED: usize = 16;

/// The most address bits the IPv4 index uses: 2^16 buckets, one per /16.
const MAX_INDEX_BITS: u32 = 16;

/// The IPv4 index: buckets of the first `bits` bits of an address (about as many buckets as
/// ranges). `starts[b]` is how many ranges start before bucket `b`'s first address, so the
/// ranges that may hold an address of bucket `b` are those of the window
/// `starts[b]..starts[b + 1]`, and the one just before it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Index {
    bits: u32,
    starts: Vec<u32>,
}

impl Index {
    /// The index of `v4` (sorted, merged); empty for short lists.
    fn new(v4: &[(u32, u32)]) -> Self {
        if v4.len() < INDEXED || u32::try_from(v4.len()).is_err() {
            return Self::default();
        }
        let bits = (usize::BITS - v4.len().leading_zeros()).min(MAX_INDEX_BITS);
        let buckets = 1_u64 << bits;
        let mut starts = Vec::with_capacity(usize::try_from(buckets + 1).unwrap_or_default());
        let mut before = 0;
        for bucket in 0..=buckets {
            let start = bucket << (32 - bits);
            while v4
                .get(before)
                .is_some_and(|&(first, _)| u64::from(first) < start)
            {
                before += 1;
            }
            starts.push(u32::try_from(before).unwrap_or(u32::MAX));
        }
        Self { bits, starts }
    }

    /// The window of ranges to search for `address`, when there is an index.
    fn window(&self, address: u32) -> Option<(usize, usize)> {
        let bucket = address.checked_shr(32 - self.bits).unwrap_or(0) as usize;
        match (self.starts.get(bucket), self.starts.get(bucket + 1)) {
            (Some(&lo), Some(&hi)) => Some((lo as usize, hi as usize)),
            _ => None,
        }
    }
}

/// Sorted, merged address ranges: what a list is, for lookups.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ranges {
    v4: Vec<(u32, u32)>,
    v4_index: Index,
    v6: Vec<(u128, u128)>,
}

impl Ranges {
    /// Whether `ip` is in the ranges. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the
    /// IPv4 address it maps (RFC 4291, 2.5.5.2), and is in an IPv6 network that holds it as
    /// written (`::/0`); a plain IPv4 address is only in IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.contains_v4(u32::from(v4)),
            IpAddr::V6(v6) => {
                v6.to_ipv4_mapped()
                    .is_some_and(|v4| self.contains_v4(u32::from(v4)))
                    || find(&self.v6, u128::from(v6))
            }
        }
    }

    /// Whether the IPv4 address `address` is in the ranges: through the index when there is
    /// one.
    fn contains_v4(&self, address: u32) -> bool {
        let window = self.v4_index.window(address).unwrap_or((0, self.v4.len()));
        find_between(&self.v4, window, address)
    }

    /// IPv4 and IPv6 ranges, sorted and merged, with the IPv4 index when it pays.
    fn new(v4: Vec<(u32, u32)>, v6: Vec<(u128, u128)>) -> Self {
        let v4 = merge(v4);
        Self {
            v4_index: Index::new(&v4),
            v4,
            v6: merge(v6),
        }
    }

    /// How many ranges are left once entries are merged.
    #[must_use]
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the list holds no address at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The bytes the ranges take on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.v4.capacity() * size_of::<(u32, u32)>()
            + self.v4_index.starts.capacity() * size_of::<u32>()
            + self.v6.capacity() * size_of::<(u128, u128)>()
    }
}

/// One entry's addresses, first to last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    V4(u32, u32),
    V6(u128, u128),
}

/// The entry of one line: `Ok(None)` for a comment or a blank line, `Err(())` for anything
/// else that is not an address or a network. Text after `#` (FireHOL) or `;` (Spamhaus:
/// `192.0.2.0/24 ; SBL123`) is a comment. A network with host bits set (`192.0.2.1/24`) is
/// the network that holds it; an IPv6 network inside `::ffff:0:0/96` is the IPv4 network it
/// maps.
fn parse_line(line: &str) -> Result<Option<Entry>, ()> {
    let data = line.split(['#', ';']).next().unwrap_or_default().trim();
    if data.is_empty() {
        return Ok(None);
    }
    let (first, last) = match data.parse::<IpNet>() {
        Ok(net) => (net.network(), net.broadcast()),
        Err(_) => {
            let ip = data.parse::<IpAddr>().map_err(|_| ())?;
            (ip, ip)
        }
    };
    Ok(Some(match (first, last) {
        (IpAddr::V4(first), IpAddr::V4(last)) => Entry::V4(first.into(), last.into()),
        (IpAddr::V6(first), IpAddr::V6(last)) => {
            match (first.to_ipv4_mapped(), last.to_ipv4_mapped()) {
                (Some(first), Some(last)) => Entry::V4(first.into(), last.into()),
                _ => Entry::V6(first.into(), last.into()),
            }
        }
        // `IpNet` never mixes families.
        _ => return Err(()),
    }))
}

/// A list's name: its file's name without the extension (`firehol_level1.netset` is
/// `firehol_level1`), or the whole path when it has no file name.
pub(crate) fn name_of(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The longest piece of a bad line quoted in an error.
const QUOTED: usize = 80;

/// One blocklist: its name, how many entries its file has, and their ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocklist {
    /// The file's name without its extension, the list's name in answers.
    pub name: String,
    /// Lines holding an address or a network.
    pub entries: usize,
    /// The addresses listed, as sorted, merged ranges.
    pub ranges: Ranges,
}

impl Blocklist {
    /// The list `name` in `text`; `origin` names the text in errors (its path).
    pub fn parse(name: &str, origin: &str, text: &str) -> Result<Self, LoadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (index, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(None) => {}
                Ok(Some(Entry::V4(first, last))) => v4.push((first, last)),
                Ok(Some(Entry::V6(first, last))) => v6.push((first, last)),
                Err(()) => {
                    return Err(LoadError::Syntax {
                        path: origin.to_owned(),
                        line: index + 1,
                        text: line.chars().take(QUOTED).collect(),
                    });
                }
            }
        }
        Ok(Self {
            name: name.to_owned(),
            entries: v4.len() + v6.len(),
            ranges: Ranges::new(v4, v6),
        })
    }

    /// The list in the file at `path`, named after the file (`firehol_level1.netset` is
    /// `firehol_level1`).
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: origin.clone(),
            source,
        })?;
        Self::parse(&name_of(path), &origin, &text)
    }

    /// Whether the list holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.contains(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ip` in the ranges of `lines`, one case per `(ip, expected)`.
    fn check(lines: &str, cases: &[(&str, bool)]) {
        let list = Blocklist::parse("t", "t", lines).unwrap();
        for (ip, expected) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(list.contains(ip), *expected, "{ip} in {lines:?}");
        }
    }

    #[test]
    fn lines_are_addresses_networks_comments_or_blank() {
        let entry = |line: &str| parse_line(line);
        assert_eq!(entry(""), Ok(None));
        assert_eq!(entry("   \t"), Ok(None));
        assert_eq!(entry("# FireHOL header"), Ok(None));
        assert_eq!(entry("; Spamhaus DROP header"), Ok(None));
        assert_eq!(
            entry("192.0.2.1"),
            Ok(Some(Entry::V4(0xc000_0201, 0xc000_0201)))
        );
        assert_eq!(
            entry("192.0.2.0/24 ; SBL000001"),
            Ok(Some(Entry::V4(0xc000_0200, 0xc000_02ff)))
        );
        assert_eq!(
            entry("  192.0.2.0/31  # two\r"),
            Ok(Some(Entry::V4(0xc000_0200, 0xc000_0201)))
        );
        // Host bits set: the network that holds the address.
        assert_eq!(
            entry("192.0.2.77/24"),
            Ok(Some(Entry::V4(0xc000_0200, 0xc000_02ff)))
        );
        assert_eq!(entry("0.0.0.0/0"), Ok(Some(Entry::V4(0, u32::MAX))));
        assert_eq!(entry("::/0"), Ok(Some(Entry::V6(0, u128::MAX))));
        assert_eq!(
            entry("2001:db8::1/128"),
            Ok(Some(Entry::V6(
                0x2001_0db8 << 96 | 1,
                0x2001_0db8 << 96 | 1
            )))
        );
        // IPv4-mapped IPv6 entries are IPv4.
        assert_eq!(
            entry("::ffff:192.0.2.0/120"),
            Ok(Some(Entry::V4(0xc000_0200, 0xc000_02ff)))
        );
        assert_eq!(
            entry("::ffff:192.0.2.9"),
            Ok(Some(Entry::V4(0xc000_0209, 0xc000_0209)))
        );
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0-192.0.2.9",
            "999.0.2.1",
            "example.com",
            "192.0.2.1 192.0.2.2",
            "[::1]",
        ] {
            assert_eq!(entry(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn cidr_edges() {
        check(
            "192.0.2.0/24\n",
            &[
                ("192.0.1.255", false),
                ("192.0.2.0", true),
                ("192.0.2.255", true),
                ("192.0.3.0", false),
            ],
        );
        check(
            "192.0.2.7/32",
            &[
                ("192.0.2.7", true),
                ("192.0.2.6", false),
                ("192.0.2.8", false),
            ],
        );
        check(
            "0.0.0.0/0",
            &[
                ("0.0.0.0", true),
                ("255.255.255.255", true),
                ("2001:db8::1", false),
            ],
        );
        check(
            "2001:db8::1/128",
            &[
                ("2001:db8::1", true),
                ("2001:db8::", false),
                ("2001:db8::2", false),
            ],
        );
        check(
            "::/0",
            &[
                ("::", true),
                ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
                ("192.0.2.1", false),
            ],
        );
        check(
            "255.255.255.255",
            &[("255.255.255.255", true), ("255.255.255.254", false)],
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_address() {
        check(
            "192.0.2.0/24",
            &[
                ("::ffff:192.0.2.1", true),
                ("::ffff:192.0.3.1", false),
                ("::192.0.2.1", false),
            ],
        );
        check(
            "::ffff:192.0.2.0/120",
            &[("192.0.2.200", true), ("::ffff:192.0.2.200", true)],
        );
        // Written as IPv6, inside an IPv6 network.
        check("::/0", &[("::ffff:192.0.2.1", true), ("192.0.2.1", false)]);
    }

    #[test]
    fn overlapping_and_adjacent_ranges_merge() {
        let list = Blocklist::parse(
            "t",
            "t",
            "192.0.2.0/25\n192.0.2.128/25\n192.0.2.10\n192.0.2.0/24\n198.51.100.0/24\n\
             2001:db8::/33\n2001:db8:8000::/33\n0.0.0.0/0\n",
        )
        .unwrap();
        assert_eq!(list.entries, 8);
        // 0.0.0.0/0 swallows the IPv4 ones; the two IPv6 halves make one /32.
        assert_eq!(list.ranges.v4, [(0, u32::MAX)]);
        assert_eq!(list.ranges.v6.len(), 1);
        assert_eq!(merge(vec![(1u32, 2), (4, 5)]), [(1, 2), (4, 5)]);
        assert_eq!(merge(vec![(4u32, 5), (1, 3)]), [(1, 5)]);
        assert_eq!(merge(vec![(1u32, 9), (2, 3)]), [(1, 9)]);
        assert_eq!(
            merge(vec![(5u32, u32::MAX), (u32::MAX, u32::MAX), (0, 1)]),
            [(0, 1), (5, u32::MAX)]
        );
        assert_eq!(merge::<u32>(vec![]), []);
        assert!(!find::<u32>(&[], 0));
    }

    #[test]
    fn indexed_lists_answer_as_a_scan_would() {
        for (entries, bits, queries) in [
            (20, 5, 2_000),
            (300, 9, 2_000),
            (8_000, 13, 2_000),
            (50_000, 16, 300),
        ] {
            check_against_a_scan(entries, bits, queries);
        }
        // A short list has no index.
        let short = Blocklist::parse("short", "short", "192.0.2.0/24\n").unwrap();
        assert_eq!(short.ranges.v4_index, Index::default());
    }

    /// A list of `count` pseudo-random networks, whose index has `bits` bits, answers as a
    /// scan of its entries does: at `queries` random addresses, and at the edges of a quarter
    /// as many of its entries.
    fn check_against_a_scan(count: usize, bits: u32, queries: usize) {
        // Deterministic pseudo-random networks (xorshift).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut text = String::new();
        let mut entries = Vec::new();
        for _ in 0..count {
            let address = next() as u32;
            let prefix = [32, 32, 30, 28, 24, 16][(next() % 6) as usize];
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            let first = address & mask;
            entries.push((first, first | !mask));
            text.push_str(&format!("{}/{prefix}\n", std::net::Ipv4Addr::from(first)));
        }
        let list = Blocklist::parse("long", "long", &text).unwrap();
        let index = &list.ranges.v4_index;
        assert_eq!(index.bits, bits, "{count}");
        assert_eq!(index.starts.len(), (1 << bits) + 1, "{count}");
        let scan = |address: u32| {
            entries
                .iter()
                .any(|&(first, last)| first <= address && address <= last)
        };
        let edges = queries / 4;
        let mut queries: Vec<u32> = (0..queries).map(|_| next() as u32).collect();
        for &(first, last) in entries.iter().take(edges) {
            queries.extend([first, last, first.wrapping_sub(1), last.wrapping_add(1)]);
        }
        queries.extend([0, u32::MAX, 0xffff, 0x1_0000]);
        for address in queries {
            let ip = IpAddr::V4(address.into());
            assert_eq!(list.contains(ip), scan(address), "{ip} in {count}");
        }
    }

    #[test]
    fn a_bad_line_names_its_file_and_line() {
        let text = "\u{feff}# a list\n192.0.2.1\n\n192.0.2.300\n";
        let error = Blocklist::parse("t", "lists/t.netset", text).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"lists/t.netset:4: not an IP address or CIDR network: "192.0.2.300""#
        );
        let long = "x".repeat(1000);
        let error = Blocklist::parse("t", "t", &long).unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
        let error = Blocklist::load(Path::new("no/such/list.netset")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("no/such/list.netset: cannot read the list"),
            "{error}"
        );
    }
}
