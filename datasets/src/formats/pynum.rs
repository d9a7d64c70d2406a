//! Python's `int(bytes)` and `float(bytes)` for base-10 text, which decide
//! TFX's CSV column types: ASCII whitespace around the value, an optional
//! sign, and single underscores between digits are accepted.

const PY_SPACE: &[u8] = b" \t\n\r\x0b\x0c";

fn strip(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !PY_SPACE.contains(b))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !PY_SPACE.contains(b))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Removes underscores that sit between two digits; `None` if any other
/// underscore appears (Python rejects those).
fn without_underscores(v: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if !v.contains(&b'_') {
        return Some(std::borrow::Cow::Borrowed(v));
    }
    let mut out = Vec::with_capacity(v.len());
    for (i, &b) in v.iter().enumerate() {
        if b == b'_' {
            let ok =
                i > 0 && i + 1 < v.len() && v[i - 1].is_ascii_digit() && v[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        } else {
            out.push(b);
        }
    }
    Some(std::borrow::Cow::Owned(out))
}

/// Result of Python's `int(value)`: `Ok(Some)` in int64 range, `Ok(None)`
/// for an integer outside it, `Err` when it is not an integer at all.
pub fn parse_py_int(value: &[u8]) -> Result<Option<i64>, ()> {
    match plain_number(value) {
        Some(PlainNumber::Int(n)) => return Ok(Some(n)),
        Some(PlainNumber::Float(_)) => return Err(()),
        None => {}
    }
    let v = strip(value);
    let digits = v
        .strip_prefix(b"+")
        .or_else(|| v.strip_prefix(b"-"))
        .unwrap_or(v);
    if digits.is_empty() || !digits[0].is_ascii_digit() {
        return Err(());
    }
    let clean = without_underscores(v).ok_or(())?;
    if !clean[1..].iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    // SAFETY of from_utf8: only ASCII sign and digits remain.
    let s = std::str::from_utf8(&clean).map_err(|_| ())?;
    match s.parse::<i64>() {
        Ok(i) => Ok(Some(i)),
        Err(e) => match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => Ok(None),
            _ => Err(()),
        },
    }
}

/// Powers of ten that f64 holds exactly.
const EXACT_POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A number in one of the two forms data files write almost every number
/// in, read in one pass over its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlainNumber {
    /// `-?digits`, at most 18 digits (so it cannot overflow an i64).
    Int(i64),
    /// `-?digits.digits`, at most 15 digits in all, as the correctly
    /// rounded f64 (Clinger's fast path: the digits as an integer below
    /// 2^53 and the power of ten are both exact, so one division rounds
    /// once, as `str::parse` does).
    Float(f64),
}

/// `value` as a [`PlainNumber`]; `None` for any other text (longer
/// numbers, signs other than a leading `-`, spaces, underscores,
/// exponents, words), which the general parsers below read.
pub fn plain_number(value: &[u8]) -> Option<PlainNumber> {
    let (negative, body) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    if body.is_empty() || body.len() > 18 {
        return None;
    }
    let mut m = 0u64;
    let mut dot = None;
    for (i, &b) in body.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            m = m * 10 + u64::from(d);
        } else if b == b'.' && dot.is_none() {
            dot = Some(i);
        } else {
            return None;
        }
    }
    let Some(dot) = dot else {
        // At most 18 digits: below 10^18 < i64::MAX.
        let n = m as i64;
        return Some(PlainNumber::Int(if negative { -n } else { n }));
    };
    if dot == 0 || dot + 1 == body.len() || body.len() > 16 {
        return None;
    }
    let f = m as f64 / EXACT_POW10[body.len() - dot - 1];
    Some(PlainNumber::Float(if negative { -f } else { f }))
}

/// Python's `float(value)`, or `None` when Python would raise.
pub fn parse_py_float(value: &[u8]) -> Option<f64> {
    match plain_number(value) {
        Some(PlainNumber::Float(f)) => return Some(f),
        // An i64 of at most 18 digits converts to the nearest f64, as
        // `str::parse` rounds; "-0" is negative zero.
        Some(PlainNumber::Int(0)) => return Some(if value[0] == b'-' { -0.0 } else { 0.0 }),
        Some(PlainNumber::Int(n)) => return Some(n as f64),
        None => {}
    }
    let v = strip(value);
    if v.is_empty() {
        return None;
    }
    let body = v
        .strip_prefix(b"+")
        .or_else(|| v.strip_prefix(b"-"))
        .unwrap_or(v);
    let special = body.first().is_some_and(u8::is_ascii_alphabetic)
        && (body.eq_ignore_ascii_case(b"inf")
            || body.eq_ignore_ascii_case(b"infinity")
            || body.eq_ignore_ascii_case(b"nan"));
    if !special {
        // Rust also takes forms Python refuses; only digits, '.', exponent remain.
        if !body
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
        {
            return None;
        }
    }
    let clean = without_underscores(v)?;
    std::str::from_utf8(&clean).ok()?.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_python() {
        assert_eq!(parse_py_int(b"12"), Ok(Some(12)));
        assert_eq!(parse_py_int(b" -7 "), Ok(Some(-7)));
        assert_eq!(parse_py_int(b"+007"), Ok(Some(7)));
        assert_eq!(parse_py_int(b"1_000"), Ok(Some(1000)));
        assert_eq!(parse_py_int(b"9223372036854775807"), Ok(Some(i64::MAX)));
        assert_eq!(parse_py_int(b"9223372036854775808"), Ok(None));
        assert_eq!(parse_py_int(b"1_"), Err(()));
        assert_eq!(parse_py_int(b"1__0"), Err(()));
        assert_eq!(parse_py_int(b"1.0"), Err(()));
        assert_eq!(parse_py_int(b""), Err(()));
        assert_eq!(parse_py_int(b"-"), Err(()));
        assert_eq!(parse_py_int(b"0x10"), Err(()));
    }

    #[test]
    fn floats_like_python() {
        assert_eq!(parse_py_float(b"1.5"), Some(1.5));
        assert_eq!(parse_py_float(b" 1e3 "), Some(1000.0));
        assert_eq!(parse_py_float(b".5"), Some(0.5));
        assert_eq!(parse_py_float(b"5."), Some(5.0));
        assert_eq!(parse_py_float(b"1_0.5"), Some(10.5));
        assert!(parse_py_float(b"NaN").unwrap().is_nan());
        assert_eq!(parse_py_float(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_py_float(b"17031832200.0"), Some(17031832200.0));
        assert_eq!(parse_py_float(b"abc"), None);
        assert_eq!(parse_py_float(b"1,5"), None);
        assert_eq!(parse_py_float(b"."), None);
        assert_eq!(parse_py_float(b"e5"), None);
        assert_eq!(
            parse_py_float(b"-0.00").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }

    /// The next state of a xorshift generator.
    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// A number's text drawn from `x`: negative when its top bit is set,
    /// `digits` digits, and a dot before digit `dot` when there is one.
    fn number_text(x: u64, digits: usize, dot: Option<usize>) -> String {
        let mut text = String::new();
        if x >> 63 == 1 {
            text.push('-');
        }
        let mut y = x;
        for i in 0..digits {
            if Some(i) == dot {
                text.push('.');
            }
            text.push(char::from(b'0' + (y % 10) as u8));
            y = (y / 10) ^ (y << 29);
        }
        text
    }

    /// The plain-decimal fast path gives `str::parse`'s f64, bit for bit,
    /// and leaves every other form to it.
    #[test]
    fn plain_decimals_parse_as_rust_parses_them() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            let x = xorshift(&mut x);
            let digits = 2 + (x % 14) as usize;
            let dot = 1 + ((x >> 8) % (digits as u64 - 1)) as usize;
            let text = number_text(x, digits, Some(dot));
            let Some(PlainNumber::Float(fast)) = plain_number(text.as_bytes()) else {
                panic!("{text} is a plain decimal");
            };
            assert_eq!(
                fast.to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text}"
            );
        }
        for other in [
            "1234567890.1234567",
            "1.",
            ".5",
            "1e5",
            "+1.5",
            " 1.5",
            "1_0.5",
            "1.5x",
        ] {
            assert_eq!(plain_number(other.as_bytes()), None, "{other}");
        }
    }

    /// Plain integers read in the same pass give `str::parse`'s i64, and
    /// as floats its f64 (negative zero included); other forms are left
    /// to the general parsers, which still take them.
    #[test]
    fn plain_integers_parse_as_rust_parses_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            let x = xorshift(&mut x);
            let text = number_text(x, 1 + (x % 18) as usize, None);
            let Some(PlainNumber::Int(fast)) = plain_number(text.as_bytes()) else {
                panic!("{text} is a plain integer");
            };
            assert_eq!(fast, text.parse::<i64>().unwrap(), "{text}");
            assert_eq!(parse_py_int(text.as_bytes()), Ok(Some(fast)), "{text}");
            assert_eq!(
                parse_py_float(text.as_bytes()).map(f64::to_bits),
                Some(text.parse::<f64>().unwrap().to_bits()),
                "{text}"
            );
        }
        assert_eq!(
            parse_py_float(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        for other in ["", "-", "1.2.3", "--1", "1-", "1234567890123456789"] {
            assert_eq!(plain_number(other.as_bytes()), None, "{other}");
        }
        assert_eq!(
            parse_py_int(b"1234567890123456789"),
            Ok(Some(1_234_567_890_123_456_789))
        );
        assert_eq!(parse_py_int(b"1.5"), Err(()));
    }
}
