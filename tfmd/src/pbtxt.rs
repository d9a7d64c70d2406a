//! A protobuf text-format parser into a generic tree, enough for
//! tensorflow-metadata `Schema` files: fields with `:` or nested `{ }` /
//! `< >`, strings (with escapes, adjacent ones joined), numbers, enum
//! identifiers, `[a, b]` lists and `#` comments. Errors give line and column.

/// One value in a text-format message.
#[derive(Debug, Clone, PartialEq)]
pub enum PbValue {
    /// A quoted string (bytes after unescaping).
    Str(Vec<u8>),
    /// A number literal as written.
    Num(String),
    /// An identifier: an enum value or `true`/`false`.
    Ident(String),
    /// A nested message.
    Msg(PbMessage),
}

/// A text-format message: its fields in order (repeated fields repeat).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PbMessage {
    /// `(field name, value)` pairs as written.
    pub fields: Vec<(String, PbValue)>,
}

impl PbMessage {
    /// Every value of field `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PbValue> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The last value of field `name` (text format's rule for singular fields).
    pub fn get(&self, name: &str) -> Option<&PbValue> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Field `name` as a string.
    pub fn get_str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            PbValue::Str(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Field `name` as an identifier (enum).
    pub fn get_ident(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            PbValue::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// Every nested message in field `name`.
    pub fn messages<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PbMessage> + 'a {
        self.all(name).filter_map(|v| match v {
            PbValue::Msg(m) => Some(m),
            _ => None,
        })
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

/// Parses a text-format message; the error says where and what.
pub fn parse(text: &str) -> Result<PbMessage, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let m = p.message(None)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.err("unexpected text after the message"));
    }
    Ok(m)
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        let before = &self.s[..self.pos.min(self.s.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        format!("line {line}, column {col}: {what}")
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b'#' => {
                    while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                c if c.is_ascii_whitespace() => self.pos += 1,
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn ident(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || matches!(self.s[self.pos], b'_' | b'.'))
        {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.err("expected a field name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn message(&mut self, close: Option<u8>) -> Result<PbMessage, String> {
        let mut m = PbMessage::default();
        loop {
            match self.peek() {
                None if close.is_none() => return Ok(m),
                None => return Err(self.err("unterminated message")),
                Some(c) if Some(c) == close => {
                    self.pos += 1;
                    return Ok(m);
                }
                _ => {}
            }
            let name = if self.peek() == Some(b'[') {
                // Extension or Any type URL: [pkg.ext]
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos] != b']' {
                    self.pos += 1;
                }
                self.pos += 1;
                String::from_utf8_lossy(&self.s[start..self.pos.min(self.s.len())]).into_owned()
            } else {
                self.ident()?
            };
            let mut colon = false;
            if self.peek() == Some(b':') {
                self.pos += 1;
                colon = true;
            }
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    let sub = self.message(Some(b'}'))?;
                    m.fields.push((name, PbValue::Msg(sub)));
                }
                Some(b'<') => {
                    self.pos += 1;
                    let sub = self.message(Some(b'>'))?;
                    m.fields.push((name, PbValue::Msg(sub)));
                }
                Some(b'[') if colon => {
                    self.pos += 1;
                    loop {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            break;
                        }
                        let v = match self.peek() {
                            Some(b'{') => {
                                self.pos += 1;
                                PbValue::Msg(self.message(Some(b'}'))?)
                            }
                            _ => self.scalar()?,
                        };
                        m.fields.push((name.clone(), v));
                        if self.peek() == Some(b',') {
                            self.pos += 1;
                        }
                    }
                }
                _ if colon => {
                    let v = self.scalar()?;
                    m.fields.push((name, v));
                }
                _ => return Err(self.err(&format!("expected ':' or '{{' after '{name}'"))),
            }
            if matches!(self.peek(), Some(b',') | Some(b';')) {
                self.pos += 1;
            }
        }
    }

    fn scalar(&mut self) -> Result<PbValue, String> {
        match self.peek() {
            Some(b'"') | Some(b'\'') => {
                let mut out = Vec::new();
                while let Some(q @ (b'"' | b'\'')) = self.peek() {
                    self.pos += 1;
                    self.string_body(q, &mut out)?;
                }
                Ok(PbValue::Str(out))
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.') => {
                let start = self.pos;
                self.pos += 1;
                while self.pos < self.s.len()
                    && (self.s[self.pos].is_ascii_alphanumeric()
                        || matches!(self.s[self.pos], b'.' | b'-' | b'+'))
                {
                    self.pos += 1;
                }
                Ok(PbValue::Num(
                    String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
                ))
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => Ok(PbValue::Ident(self.ident()?)),
            _ => Err(self.err("expected a value")),
        }
    }

    fn string_body(&mut self, quote: u8, out: &mut Vec<u8>) -> Result<(), String> {
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match c {
                c if c == quote => return Ok(()),
                b'\n' => return Err(self.err("newline inside a string")),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'v' => out.push(11),
                        b'\\' | b'\'' | b'"' | b'?' => out.push(e),
                        b'x' => {
                            let start = self.pos;
                            while self.pos < self.s.len()
                                && self.pos < start + 2
                                && self.s[self.pos].is_ascii_hexdigit()
                            {
                                self.pos += 1;
                            }
                            let h = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                            out.push(
                                u8::from_str_radix(h, 16)
                                    .map_err(|_| self.err("bad \\x escape"))?,
                            );
                        }
                        b'0'..=b'7' => {
                            let start = self.pos - 1;
                            while self.pos < self.s.len()
                                && self.pos < start + 3
                                && (b'0'..=b'7').contains(&self.s[self.pos])
                            {
                                self.pos += 1;
                            }
                            let o = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                            out.push(
                                u8::from_str_radix(o, 8)
                                    .map_err(|_| self.err("bad octal escape"))?,
                            );
                        }
                        _ => return Err(self.err(&format!("unknown escape '\\{}'", e as char))),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

/// Prints a message in text format, two-space indented, fields in the order
/// they are held (callers put them in field-number order, as protobuf does).
pub fn print(msg: &PbMessage) -> String {
    let mut out = String::new();
    print_into(msg, 0, &mut out);
    out
}

fn print_into(msg: &PbMessage, indent: usize, out: &mut String) {
    for (name, value) in &msg.fields {
        out.extend(std::iter::repeat_n(' ', indent));
        match value {
            PbValue::Msg(m) => {
                out.push_str(name);
                out.push_str(" {\n");
                print_into(m, indent + 2, out);
                out.extend(std::iter::repeat_n(' ', indent));
                out.push_str("}\n");
            }
            PbValue::Str(b) => {
                out.push_str(&format!("{name}: {}\n", quote(b)));
            }
            PbValue::Num(s) | PbValue::Ident(s) => {
                out.push_str(&format!("{name}: {s}\n"));
            }
        }
    }
}

impl PbMessage {
    /// Appends a field.
    pub fn push(&mut self, name: &str, value: PbValue) -> &mut Self {
        self.fields.push((name.to_string(), value));
        self
    }

    /// Appends a string field.
    pub fn push_str(&mut self, name: &str, value: &str) -> &mut Self {
        self.push(name, PbValue::Str(value.as_bytes().to_vec()))
    }

    /// Appends a number field (integers as written, floats as
    /// [`format_double`] writes them).
    pub fn push_num(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.push(name, PbValue::Num(value.to_string()))
    }

    /// Appends an enum or bool field.
    pub fn push_ident(&mut self, name: &str, value: &str) -> &mut Self {
        self.push(name, PbValue::Ident(value.to_string()))
    }

    /// Appends a nested message.
    pub fn push_msg(&mut self, name: &str, value: PbMessage) -> &mut Self {
        self.push(name, PbValue::Msg(value))
    }

    /// Field `name` as a number, if it is one.
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            PbValue::Num(s) | PbValue::Ident(s) => parse_float(s),
            _ => None,
        }
    }

    /// Field `name` as an integer, if it is one.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            PbValue::Num(s) => parse_int(s),
            _ => None,
        }
    }

    /// Field `name` as a bool (`true`/`false`/`1`/`0`).
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            PbValue::Ident(s) | PbValue::Num(s) => match s.as_str() {
                "true" | "True" | "t" | "1" => Some(true),
                "false" | "False" | "f" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Parses a text-format float literal (`1`, `1.5`, `1e3`, `1.5f`, `inf`, `-nan`).
pub fn parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.trim_start_matches(['-', '+']) {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        return Some(i as f64);
    }
    s.trim_end_matches(['f', 'F']).parse().ok()
}

/// Parses a text-format integer literal (decimal, `0x` hex).
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<i128>().ok()?
    };
    i64::try_from(if neg { -v } else { v }).ok()
}

/// Formats a double as protobuf's Python text format does: shortest
/// round-trip digits, always with a decimal point or exponent (`1.0`,
/// `0.9999`, `1e-07`), `inf`/`-inf`/`nan`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{v:?}")
}

/// Formats a 32-bit float field (shortest digits of the f32 value).
pub fn format_float(v: f32) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{v:?}")
}

/// Quotes bytes as a text-format string.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{:03o}", b)),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schema_like_text() {
        let m = parse(
            "# comment\nfeature {\n name: \"a\" type: INT\n presence { min_fraction: 1.0 }\n}\nfeature < name: 'b\\n' 'c' >\nx: [1, 2]",
        )
        .unwrap();
        let f: Vec<_> = m.messages("feature").collect();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].get_str("name").unwrap(), "a");
        assert_eq!(f[0].get_ident("type"), Some("INT"));
        assert_eq!(f[1].get_str("name").unwrap(), "b\nc");
        assert_eq!(m.all("x").count(), 2);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("feature {\n name: \"a\"\n").unwrap_err();
        assert!(e.contains("unterminated message"), "{e}");
        let e = parse("feature {\n name \"a\" }").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }

    #[test]
    fn print_round_trips() {
        let text = "feature {\n  name: \"a\\\"b\"\n  type: INT\n  presence {\n    min_fraction: 1.0\n  }\n}\nx: 1e-07\n";
        let m = parse(text).unwrap();
        assert_eq!(print(&m), text);
        assert_eq!(format_double(1.0), "1.0");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(m.get_f64("x"), Some(1e-7));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_int("0x10"), Some(16));
    }

    #[test]
    fn quote_round_trips() {
        let q = quote(b"a\"b\\\x01\xff");
        let m = parse(&format!("s: {q}")).unwrap();
        assert_eq!(m.get("s"), Some(&PbValue::Str(b"a\"b\\\x01\xff".to_vec())));
    }
}
