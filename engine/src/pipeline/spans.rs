//! Spans and versions, as TFX's ExampleGen finds them: an input pattern
//! with `{SPAN}` (or `{YYYY}{MM}{DD}`, span = days since 1970-01-01) and
//! optionally `{VERSION}` is listed as a glob, each file's span and
//! version are read off its path, and a span's data is its latest
//! version's files. A pattern without span placeholders is one span, 0.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use regex::Regex;
use weir_datasets::input::resolve_input;
use weir_datasets::InputFile;

use crate::error::{EngineError, Result};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Span(Option<usize>),
    Version(Option<usize>),
    Year,
    Month,
    Day,
}

impl Token {
    /// The regex group that captures this placeholder's text.
    fn group(&self) -> Option<&'static str> {
        match self {
            Token::Literal(_) => None,
            Token::Span(_) => Some("span"),
            Token::Version(_) => Some("version"),
            Token::Year => Some("year"),
            Token::Month => Some("month"),
            Token::Day => Some("day"),
        }
    }
}

/// A parsed input pattern.
#[derive(Debug, Clone)]
pub struct InputPattern {
    raw: String,
    tokens: Vec<Token>,
    regex: Regex,
}

/// The files of one version of one span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanInput {
    /// The span.
    pub span: u64,
    /// The input version (`{VERSION}`), if the pattern has one.
    pub version: Option<u64>,
    /// The span's date, for date patterns (`YYYY-MM-DD`).
    pub date: Option<String>,
    /// The pattern with this span's and version's text filled in: a glob
    /// that lists exactly `files`.
    pub glob: String,
    /// The files, sorted.
    pub files: Vec<InputFile>,
}

/// Which spans a run processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanSelection {
    /// The latest span (TFX's default).
    #[default]
    Latest,
    /// One span.
    One(u64),
    /// Spans `from..=to` that exist.
    Range(u64, u64),
    /// The spans within the last `n` span numbers (days, for date patterns)
    /// up to the latest.
    Last(u64),
    /// Every span that exists.
    All,
}

impl std::str::FromStr for SpanSelection {
    type Err = EngineError;
    /// `all`, `N`, `A..B` or `A..=B` (both ends included either way).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            EngineError::Invalid(format!(
                "bad span range '{s}' (expected N, A..B with both ends included, or all)"
            ))
        };
        let s = s.trim();
        if s == "all" {
            return Ok(SpanSelection::All);
        }
        if let Some((a, b)) = s.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b): (u64, u64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b {
                return Err(bad());
            }
            return Ok(SpanSelection::Range(a, b));
        }
        s.parse().map(SpanSelection::One).map_err(|_| bad())
    }
}

impl std::fmt::Display for SpanSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpanSelection::Latest => write!(f, "the latest span"),
            SpanSelection::One(n) => write!(f, "span {n}"),
            SpanSelection::Range(a, b) => write!(f, "spans {a}..{b}"),
            SpanSelection::Last(n) => write!(f, "the last {n} spans"),
            SpanSelection::All => write!(f, "every span"),
        }
    }
}

/// Days since 1970-01-01 of a date.
pub fn span_of_date(date: NaiveDate) -> u64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (date - epoch).num_days().max(0) as u64
}

/// The date of a date span.
pub fn date_of_span(span: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(span)
}

fn width_of(spec: &str, name: &str) -> std::result::Result<Option<usize>, String> {
    match spec.strip_prefix(name) {
        Some("") => Ok(None),
        Some(rest) => match rest.strip_prefix(':').and_then(|w| w.parse::<usize>().ok()) {
            Some(w) if (1..=20).contains(&w) => Ok(Some(w)),
            _ => Err(format!("bad width in '{{{spec}}}'")),
        },
        None => Err(format!("unknown placeholder '{{{spec}}}'")),
    }
}

/// A glob's literal text as a regex: `*` and `?` stay within one path
/// segment, `[...]` classes pass through.
fn glob_regex(lit: &str) -> String {
    let mut out = String::new();
    let mut in_class = false;
    for ch in lit.chars() {
        match ch {
            '[' if !in_class => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '!' if in_class && out.ends_with('[') => out.push('^'),
            c if in_class => out.push(c),
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

impl InputPattern {
    /// Parses `raw`; errors say what is wrong with the placeholders.
    pub fn parse(raw: &str) -> std::result::Result<InputPattern, String> {
        let mut tokens = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                tokens.push(Token::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("'{raw}': unclosed '{{'"))?
                + open;
            let spec = &rest[open + 1..close];
            tokens.push(match spec {
                "YYYY" => Token::Year,
                "MM" => Token::Month,
                "DD" => Token::Day,
                s if s.starts_with("SPAN") => Token::Span(width_of(s, "SPAN")?),
                s if s.starts_with("VERSION") => Token::Version(width_of(s, "VERSION")?),
                s => return Err(format!("'{raw}': unknown placeholder '{{{s}}}'")),
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            tokens.push(Token::Literal(rest.to_string()));
        }
        let count = |f: &dyn Fn(&Token) -> bool| tokens.iter().filter(|t| f(t)).count();
        let spans = count(&|t| matches!(t, Token::Span(_)));
        let versions = count(&|t| matches!(t, Token::Version(_)));
        let dates = [Token::Year, Token::Month, Token::Day].map(|d| count(&|t| *t == d));
        if spans > 1 || versions > 1 || dates.iter().any(|&n| n > 1) {
            return Err(format!("'{raw}': each placeholder may appear once"));
        }
        let any_date = dates.contains(&1);
        if any_date && dates.contains(&0) {
            return Err(format!(
                "'{raw}': a date needs all of {{YYYY}}, {{MM}} and {{DD}}"
            ));
        }
        if any_date && spans == 1 {
            return Err(format!("'{raw}': use {{SPAN}} or a date, not both"));
        }
        if versions == 1 && spans == 0 && !any_date {
            return Err(format!("'{raw}': {{VERSION}} needs {{SPAN}} or a date"));
        }
        let mut re = String::from("^");
        for t in &tokens {
            re.push_str(&match t {
                Token::Literal(l) => glob_regex(l),
                Token::Span(None) => r"(?P<span>\d+)".into(),
                Token::Span(Some(w)) => format!(r"(?P<span>\d{{{w}}})"),
                Token::Version(None) => r"(?P<version>\d+)".into(),
                Token::Version(Some(w)) => format!(r"(?P<version>\d{{{w}}})"),
                Token::Year => r"(?P<year>\d{4})".into(),
                Token::Month => r"(?P<month>\d{2})".into(),
                Token::Day => r"(?P<day>\d{2})".into(),
            });
        }
        // A pattern may name folders: their files belong to them.
        re.push_str("(?:/.*)?$");
        let regex = Regex::new(&re).map_err(|e| format!("'{raw}': {e}"))?;
        Ok(InputPattern {
            raw: raw.to_string(),
            tokens,
            regex,
        })
    }

    /// Whether spans are dates.
    pub fn is_date(&self) -> bool {
        self.tokens.contains(&Token::Year)
    }

    /// Whether the pattern has `{VERSION}`.
    pub fn has_version(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, Token::Version(_)))
    }

    /// The pattern as a glob over every span and version.
    fn glob(&self, fill: &dyn Fn(&Token) -> Option<String>) -> String {
        let digits = |n: usize| "[0-9]".repeat(n);
        self.tokens
            .iter()
            .map(|t| match (fill(t), t) {
                (Some(text), _) => text,
                (None, Token::Literal(l)) => l.clone(),
                (None, Token::Span(Some(w)) | Token::Version(Some(w))) => digits(*w),
                (None, Token::Span(None) | Token::Version(None)) => "*".into(),
                (None, Token::Year) => digits(4),
                (None, Token::Month | Token::Day) => digits(2),
            })
            .collect()
    }

    /// Every span with the files of its latest version, by span.
    pub fn list(&self) -> Result<BTreeMap<u64, SpanInput>> {
        let spans = self.tokens.iter().any(|t| !matches!(t, Token::Literal(_)));
        let files = match resolve_input(&self.glob(&|_| None)) {
            Ok(f) => f,
            // No span yet is not an error for a pipeline: nothing to do.
            Err(e) if spans && e.to_string().contains("no input files match") => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        // (span, version) -> (texts of the placeholders, files)
        type Found = BTreeMap<(u64, Option<u64>), (Vec<(&'static str, String)>, Vec<InputFile>)>;
        let mut found: Found = BTreeMap::new();
        for f in files {
            let path = f.path.to_string_lossy().into_owned();
            let Some(c) = self.regex.captures(&path) else {
                continue;
            };
            let text = |n: &str| c.name(n).map(|m| m.as_str().to_string());
            let num = |n: &str| text(n).and_then(|t| t.parse::<u64>().ok());
            // The text of every placeholder, to fill the span's glob with.
            let texts: Vec<(&'static str, String)> = self
                .tokens
                .iter()
                .filter_map(Token::group)
                .map(|g| (g, text(g).unwrap_or_default()))
                .collect();
            let span = if self.is_date() {
                let (y, m, d) = (num("year"), num("month"), num("day"));
                let date = match (y, m, d) {
                    (Some(y), Some(m), Some(d)) => {
                        NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                    }
                    _ => None,
                };
                let Some(date) = date else {
                    tracing::warn!("{path}: not a date in the pattern's place; skipped");
                    continue;
                };
                span_of_date(date)
            } else if let Some(s) = text("span") {
                s.parse::<u64>().map_err(|_| {
                    EngineError::Invalid(format!("{path}: span '{s}' is not a number"))
                })?
            } else {
                0
            };
            let version = match text("version") {
                Some(v) => Some(v.parse::<u64>().map_err(|_| {
                    EngineError::Invalid(format!("{path}: version '{v}' is not a number"))
                })?),
                None => None,
            };
            let entry = found
                .entry((span, version))
                .or_insert_with(|| (texts.clone(), Vec::new()));
            if entry.0 != texts {
                return Err(EngineError::Invalid(format!(
                    "{path}: span {span} is written two ways in '{}'; \
                     give the placeholder a width ({{SPAN:N}})",
                    self.raw
                )));
            }
            entry.1.push(f);
        }
        let mut out = BTreeMap::new();
        // Ascending (span, version): the last one of a span is its latest.
        for ((span, version), (texts, mut files)) in found {
            files.sort_by(|a, b| a.path.cmp(&b.path));
            let glob = self.glob(&|t| {
                let g = t.group()?;
                texts.iter().find(|(k, _)| *k == g).map(|(_, v)| v.clone())
            });
            let date = self
                .is_date()
                .then(|| date_of_span(span).format("%Y-%m-%d").to_string());
            out.insert(
                span,
                SpanInput {
                    span,
                    version,
                    date,
                    glob,
                    files,
                },
            );
        }
        Ok(out)
    }
}

/// The spans of `available` that `selection` picks, ascending.
pub fn select(available: &BTreeMap<u64, SpanInput>, selection: SpanSelection) -> Vec<SpanInput> {
    let latest = available.keys().next_back().copied();
    available
        .values()
        .filter(|s| match selection {
            SpanSelection::Latest => Some(s.span) == latest,
            SpanSelection::One(n) => s.span == n,
            SpanSelection::Range(a, b) => (a..=b).contains(&s.span),
            SpanSelection::Last(n) => latest.is_some_and(|l| s.span + n > l),
            SpanSelection::All => true,
        })
        .cloned()
        .collect()
}

/// The date of a span for messages, when the pattern uses dates.
pub fn describe(span: &SpanInput) -> String {
    match &span.date {
        Some(d) => format!("span {} ({d})", span.span),
        None => format!("span {}", span.span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn date_spans_are_days_since_the_epoch() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 3).unwrap();
        assert_eq!(span_of_date(d), 19725);
        assert_eq!(date_of_span(19725), d);
        assert_eq!(date_of_span(19725).day(), 3);
    }

    #[test]
    fn patterns_are_checked() {
        assert!(InputPattern::parse("d/{SPAN}/x-{VERSION:2}.csv").is_ok());
        assert!(InputPattern::parse("d/{YYYY}{MM}{DD}/*.csv")
            .unwrap()
            .is_date());
        for bad in [
            "d/{YYYY}{MM}/x",
            "d/{SPAN}/{YYYY}{MM}{DD}",
            "d/{VERSION}/x",
            "d/{SPAN}{SPAN}",
            "d/{SPAN:x}",
            "d/{WHAT}",
            "d/{SPAN",
        ] {
            assert!(InputPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selections_parse() {
        assert_eq!("all".parse::<SpanSelection>().unwrap(), SpanSelection::All);
        assert_eq!("7".parse::<SpanSelection>().unwrap(), SpanSelection::One(7));
        assert_eq!(
            "10..14".parse::<SpanSelection>().unwrap(),
            SpanSelection::Range(10, 14)
        );
        assert_eq!(
            "10..=14".parse::<SpanSelection>().unwrap(),
            SpanSelection::Range(10, 14)
        );
        assert!("14..10".parse::<SpanSelection>().is_err());
    }

    #[test]
    fn spans_and_latest_versions_are_found() {
        let dir = tempfile::tempdir().unwrap();
        for (span, version) in [("03", "1"), ("03", "2"), ("07", "1"), ("11", "4")] {
            let d = dir.path().join(format!("s-{span}/v{version}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("a.csv"), "x\n1\n").unwrap();
        }
        std::fs::write(dir.path().join("s-03/v2/b.csv"), "x\n2\n").unwrap();
        let p = format!("{}/s-{{SPAN:2}}/v{{VERSION}}/*.csv", dir.path().display());
        let spans = InputPattern::parse(&p).unwrap().list().unwrap();
        assert_eq!(spans.keys().copied().collect::<Vec<_>>(), vec![3, 7, 11]);
        let s3 = &spans[&3];
        assert_eq!(s3.version, Some(2));
        assert_eq!(s3.files.len(), 2);
        assert!(s3.glob.ends_with("s-03/v2/*.csv"), "{}", s3.glob);
        let pick = |sel| {
            select(&spans, sel)
                .iter()
                .map(|s| s.span)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(SpanSelection::Latest), vec![11]);
        assert_eq!(pick(SpanSelection::Range(4, 11)), vec![7, 11]);
        assert_eq!(pick(SpanSelection::Last(5)), vec![7, 11]);
        assert_eq!(pick(SpanSelection::All), vec![3, 7, 11]);
        assert_eq!(pick(SpanSelection::One(5)), Vec::<u64>::new());
    }
}
