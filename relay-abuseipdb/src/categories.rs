//! AbuseIPDB's report categories (id, title, description): read from the table of its
//! categories page, and a built-in copy of the 23 categories it publishes for when the page
//! cannot be had.
//!
//! A report names its categories by number; the relay needs their titles (a judgement's
//! `reason`) and descriptions (an indicator's). [`parse_page`] reads them from the page's HTML,
//! [`CategoryTable::builtin`] is the fallback, and [`CategoryTable::get`] never fails: an id
//! the page lacks comes from the built-in table, and an id neither knows is `Category <id>`.

use std::collections::BTreeMap;

use scraper::{ElementRef, Html, Selector};

/// One AbuseIPDB report category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Its number, as reports carry it (`18`).
    pub id: u64,
    /// Its title (`Brute-Force`); may be empty on the page.
    pub title: String,
    /// What it covers; empty for some categories on the page.
    pub description: String,
}

impl Category {
    /// What a judgement's `reason` names it by: its title, else its description, else
    /// `Category <id>`.
    #[must_use]
    pub fn name(&self) -> String {
        first_non_empty(&[&self.title, &self.description])
            .map_or_else(|| format!("Category {}", self.id), str::to_owned)
    }

    /// What an indicator says it is: its description, else its title, else `Category <id>`.
    #[must_use]
    pub fn text(&self) -> String {
        first_non_empty(&[&self.description, &self.title])
            .map_or_else(|| format!("Category {}", self.id), str::to_owned)
    }

    fn unknown(id: u64) -> Self {
        Self {
            id,
            title: format!("Category {id}"),
            description: String::new(),
        }
    }
}

fn first_non_empty<'a>(texts: &[&'a String]) -> Option<&'a str> {
    texts.iter().map(|t| t.as_str()).find(|t| !t.is_empty())
}

/// The categories by id, from the page or built in.
///
/// ```
/// use xdr_relay_abuseipdb::categories::CategoryTable;
///
/// let table = CategoryTable::builtin();
/// assert_eq!(table.get(18).title, "Brute-Force");
/// assert_eq!(table.get(15).text(), "Hacking"); // no description: the title
/// assert_eq!(table.get(99).name(), "Category 99"); // never published
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CategoryTable {
    categories: BTreeMap<u64, Category>,
}

impl CategoryTable {
    /// The 23 categories AbuseIPDB publishes (abuseipdb.com/categories), with their titles and
    /// descriptions as the page gives them (empty where the page's cell is).
    #[must_use]
    pub fn builtin() -> Self {
        let categories = BUILTIN
            .iter()
            .map(|&(id, title, description)| {
                let category = Category {
                    id,
                    title: title.to_owned(),
                    description: description.to_owned(),
                };
                (id, category)
            })
            .collect();
        Self { categories }
    }

    /// Category `id`: this table's, else the built-in one, else `Category <id>` with no
    /// description.
    #[must_use]
    pub fn get(&self, id: u64) -> Category {
        if let Some(category) = self.categories.get(&id) {
            return category.clone();
        }
        BUILTIN
            .iter()
            .find(|(known, _, _)| *known == id)
            .map_or_else(
                || Category::unknown(id),
                |&(id, title, description)| Category {
                    id,
                    title: title.to_owned(),
                    description: description.to_owned(),
                },
            )
    }

    /// How many categories the table holds (the built-in ones it falls back to not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.categories.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }
}

/// Why the categories page could not be read: the relay then uses the built-in table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// No `<table>` of the page has a row of id, title and description.
    #[error("no table of the categories page has rows of id, title and description")]
    NoCategories,
}

/// Most characters kept of a title (CTIM's `ShortString`, an indicator's `title`).
const TITLE_CHARS: usize = xdr_relay_core::ctim_model::SHORT_STRING;
/// Most characters kept of a description (CTIM's `LongString`, an indicator's `description`).
const DESCRIPTION_CHARS: usize = xdr_relay_core::ctim_model::LONG_STRING;

/// Reads the categories from the HTML of AbuseIPDB's categories page: the first `<table>`
/// with rows of at least three `<td>` cells (id, title, description), as Cisco's relay reads
/// it. Rows whose first cell is not a number are skipped (a header row of `<th>` has no
/// `<td>`); a cell's text is its text content (tags add no space, as in the DOM's `textContent`),
/// trimmed, with runs of white space as one space.
///
/// # Errors
///
/// [`PageError::NoCategories`] when no table has such a row (the page changed shape, or is
/// not the categories page at all).
///
/// ```
/// let html = "<table><tr><th>ID</th><th>Title</th><th>Description</th></tr>\
///             <tr><td>18</td><td>Brute-Force</td><td>Credential brute-force attacks.</td></tr></table>";
/// let table = xdr_relay_abuseipdb::categories::parse_page(html)?;
/// assert_eq!(table.get(18).description, "Credential brute-force attacks.");
/// # Ok::<(), xdr_relay_abuseipdb::categories::PageError>(())
/// ```
pub fn parse_page(html: &str) -> Result<CategoryTable, PageError> {
    let document = Html::parse_document(html);
    // Both selectors are constant and valid; a failure to parse one means no table is found.
    let (Ok(tables), Ok(rows)) = (Selector::parse("table"), Selector::parse("tr")) else {
        return Err(PageError::NoCategories);
    };
    for table in document.select(&tables) {
        let categories: BTreeMap<u64, Category> = table
            .select(&rows)
            .filter_map(row_category)
            .map(|c| (c.id, c))
            .collect();
        if !categories.is_empty() {
            return Ok(CategoryTable { categories });
        }
    }
    Err(PageError::NoCategories)
}

/// The category of a row of `<td>` id, title, description.
fn row_category(row: ElementRef<'_>) -> Option<Category> {
    let mut cells = row
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|cell| cell.value().name() == "td");
    let id = text_of(cells.next()?, 32).parse::<u64>().ok()?;
    let title = text_of(cells.next()?, TITLE_CHARS);
    let description = text_of(cells.next()?, DESCRIPTION_CHARS);
    Some(Category {
        id,
        title,
        description,
    })
}

/// The text of `element` as the DOM's `textContent` gives it (its text nodes concatenated as
/// they stand, so a tag boundary adds no space), runs of white space collapsed to one space,
/// the ends trimmed, at most `max` characters.
fn text_of(element: ElementRef<'_>, max: usize) -> String {
    let mut text = String::new();
    // A space is written only once a character follows it: none leads, none trails.
    let mut space = false;
    'nodes: for node in element.text() {
        for c in node.chars() {
            if c.is_whitespace() {
                space = !text.is_empty();
                continue;
            }
            if space {
                text.push(' ');
                space = false;
            }
            text.push(c);
            // Enough to be cut to `max` characters (a character is at most 4 bytes): a huge
            // cell costs no more than that.
            if text.len() > max * 4 {
                break 'nodes;
            }
        }
    }
    crate::mapping::bounded(&text, max).into_owned()
}

/// AbuseIPDB's categories page, as of this relay's writing: id, title, description (empty
/// where the page's cell is empty; the relay then shows the title).
const BUILTIN: [(u64, &str, &str); 23] = [
    (
        1,
        "DNS Compromise",
        "Altering DNS records resulting in improper redirection.",
    ),
    (
        2,
        "DNS Poisoning",
        "Falsifying domain server cache (cache poisoning).",
    ),
    (3, "Fraud Orders", "Fraudulent orders."),
    (
        4,
        "DDoS Attack",
        "Participating in distributed denial-of-service (usually part of botnet).",
    ),
    (5, "FTP Brute-Force", ""),
    (6, "Ping of Death", "Oversized IP packet."),
    (7, "Phishing", "Phishing websites and/or email."),
    (8, "Fraud VoIP", ""),
    (9, "Open Proxy", "Open proxy, open relay, or Tor exit node."),
    (
        10,
        "Web Spam",
        "Comment/forum spam, HTTP referer spam, or other CMS spam.",
    ),
    (
        11,
        "Email Spam",
        "Spam email content, infected attachments, and phishing emails. Note: Limit comments to \
         only relevent information (instead of log dumps) and be sure to remove PII if you want \
         to remain anonymous.",
    ),
    (12, "Blog Spam", "CMS blog comment spam."),
    (13, "VPN IP", "Conjunctive category."),
    (
        14,
        "Port Scan",
        "Scanning for open ports and vulnerable services.",
    ),
    (15, "Hacking", ""),
    (16, "SQL Injection", "Attempts at SQL injection."),
    (17, "Spoofing", "Email sender spoofing."),
    (
        18,
        "Brute-Force",
        "Credential brute-force attacks on webpage logins and services like SSH, FTP, SIP, SMTP, \
         RDP, etc. This category is seperate from DDoS attacks.",
    ),
    (
        19,
        "Bad Web Bot",
        "Webpage scraping (for email addresses, content, etc) and crawlers that do not honor \
         robots.txt. Excessive requests and user agent spoofing can also be reported here.",
    ),
    (
        20,
        "Exploited Host",
        "Host is likely infected with malware and being used for other attacks or to host \
         malicious content. The host owner may not be aware of the compromise. This category is \
         often used in combination with other attack categories.",
    ),
    (
        21,
        "Web App Attack",
        "Attempts to probe for or exploit installed web applications such as a CMS like \
         WordPress/Drupal, e-commerce solutions, forum software, phpMyAdmin and various other \
         software plugins/solutions.",
    ),
    (
        22,
        "SSH",
        "Secure Shell (SSH) abuse. Use this category in combination with more specific \
         categories.",
    ),
    (
        23,
        "IoT Targeted",
        "Abuse was targeted at an \"Internet of Things\" type device. Include information about \
         what type of device was targeted in the comments.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_table_with_category_rows_is_read() {
        let html = r#"<!DOCTYPE html><html><body>
            <table class="nav"><tr><td>menu</td></tr></table>
            <table class="table">
              <thead><tr><th>ID</th><th>Title</th><th>Description</th></tr></thead>
              <tbody>
                <tr><td> 1 </td><td>DNS
                    Compromise</td><td>Altering DNS records resulting in improper redirection.</td></tr>
                <tr><td>5</td><td>FTP Brute-Force</td><td></td></tr>
                <tr><td>x</td><td>not a row</td><td>skipped</td></tr>
                <tr><td>7</td><td><a href="/x">Phish&amp;ing</a></td><td>Phishing websites and/or email.</td></tr>
                <tr><td>9</td><td>too few cells</td></tr>
              </tbody>
            </table>
            <table><tr><td>2</td><td>second table</td><td>ignored</td></tr></table>
            </body></html>"#;
        let table = parse_page(html).unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(table.get(1).title, "DNS Compromise");
        assert_eq!(table.get(5).text(), "FTP Brute-Force");
        assert_eq!(table.get(7).title, "Phish&ing");
        // Not on this page: the built-in table, then a name made up from the id.
        assert_eq!(table.get(2).title, "DNS Poisoning");
        assert_eq!(table.get(9).title, "Open Proxy");
        assert_eq!(table.get(4242).name(), "Category 4242");
        assert_eq!(table.get(4242).text(), "Category 4242");
    }

    /// The description cell of a one-row page holding `cell`.
    fn description_of(cell: &str) -> String {
        let html = format!("<table><tr><td>4</td><td>DDoS</td><td>{cell}</td></tr></table>");
        parse_page(&html).unwrap().get(4).description
    }

    #[test]
    fn a_cells_text_is_its_text_content_white_space_collapsed() {
        for (cell, text) in [
            (
                "Floods from many hosts at once, often a <em>botnet</em>.",
                "Floods from many hosts at once, often a botnet.",
            ),
            (
                "<b>Bold</b> start and end <b>bold</b>",
                "Bold start and end bold",
            ),
            (
                "See <a href=\"https://example.com/x?a=1&amp;b=2\">the FAQ</a>, then report.",
                "See the FAQ, then report.",
            ),
            (
                "Nested <b>strong <i>and</i> <u>more</u></b>: done.",
                "Nested strong and more: done.",
            ),
            ("<em>Tag</em> at the start", "Tag at the start"),
            ("at the end a <code>tag</code>", "at the end a tag"),
            ("un<b>bro</b>ken", "unbroken"),
            (
                "Proxies &amp; relays &lt;open&gt; &quot;Tor&quot;",
                "Proxies & relays <open> \"Tor\"",
            ),
            (
                "\n   Text split\n      across\tlines,\n   <em>and</em>\n   tags.\n  ",
                "Text split across lines, and tags.",
            ),
            ("a<br>b", "ab"),
            ("  <b> </b> ", ""),
        ] {
            assert_eq!(description_of(cell), text, "{cell:?}");
        }
    }

    #[test]
    fn a_page_of_another_shape_is_an_error() {
        for html in [
            "",
            "not html at all",
            "<html><body><p>We moved the categories.</p></body></html>",
            "<table><tr><th>ID</th><th>Title</th><th>Description</th></tr></table>",
            "<table><tr><td>one</td><td>two</td><td>three</td></tr></table>",
            r#"{"data": [{"id": 1}]}"#,
        ] {
            assert_eq!(parse_page(html), Err(PageError::NoCategories), "{html}");
        }
    }

    #[test]
    fn hostile_pages_are_bounded() {
        let nested = "<table>".repeat(20_000);
        assert!(parse_page(&nested).is_err());
        let long = format!(
            "<table><tr><td>3</td><td>{}</td><td>{}</td></tr></table>",
            "t".repeat(50_000),
            "d ".repeat(50_000)
        );
        let table = parse_page(&long).unwrap();
        assert_eq!(table.get(3).title.chars().count(), TITLE_CHARS);
        assert_eq!(table.get(3).description.chars().count(), DESCRIPTION_CHARS);
    }

    #[test]
    fn names_fall_back_in_order() {
        let empty = Category {
            id: 8,
            title: String::new(),
            description: "only a description".into(),
        };
        assert_eq!(empty.name(), "only a description");
        assert_eq!(empty.text(), "only a description");
        let builtin = CategoryTable::builtin();
        assert_eq!(builtin.len(), 23);
        assert_eq!(builtin.get(8).text(), "Fraud VoIP");
        assert_eq!(
            builtin.get(14).text(),
            "Scanning for open ports and vulnerable services."
        );
        assert!(
            builtin
                .get(23)
                .description
                .contains("\"Internet of Things\"")
        );
    }
}
