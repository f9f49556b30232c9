//! Numbers that would change on their way into the ledger. The ledger stores an event as
//! RFC 8785 canonical JSON, where every number is an IEEE 754 double: `1e-400` would become
//! `0`, a 30-digit integer its nearest double, `0.10000000000000001` the double `0.1`. Such
//! a number is refused (`schema_violation` at its field) instead of being changed silently.

/// The first number of a JSON text (valid JSON: parsed before) whose value is not exactly
/// the double it would be stored as: its JSON pointer and its text.
pub fn first_changed_number(text: &str) -> Option<(String, String)> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut path = Vec::new();
    scanner.value(&mut path).err()
}

struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
}

type Found = (String, String);

impl Scanner<'_> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(0)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    /// Skips a string (at its opening quote) and returns its raw text, quotes included.
    fn string(&mut self) -> &str {
        let start = self.at;
        self.at += 1;
        while self.at < self.bytes.len() {
            match self.bytes[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        std::str::from_utf8(&self.bytes[start..self.at.min(self.bytes.len())]).unwrap_or("\"\"")
    }

    fn value(&mut self, path: &mut Vec<String>) -> Result<(), Found> {
        self.skip_ws();
        match self.peek() {
            b'{' => {
                self.at += 1;
                loop {
                    self.skip_ws();
                    if self.peek() != b'"' {
                        self.at += 1; // '}' of an empty object
                        return Ok(());
                    }
                    let raw = self.string();
                    let key = serde_json::from_str::<String>(raw).unwrap_or_default();
                    self.skip_ws();
                    self.at += 1; // ':'
                    path.push(key);
                    self.value(path)?;
                    path.pop();
                    self.skip_ws();
                    let separator = self.peek();
                    self.at += 1;
                    if separator != b',' {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.skip_ws();
                if self.peek() == b']' {
                    self.at += 1;
                    return Ok(());
                }
                let mut index = 0usize;
                loop {
                    path.push(index.to_string());
                    self.value(path)?;
                    path.pop();
                    self.skip_ws();
                    let separator = self.peek();
                    self.at += 1;
                    if separator != b',' || self.at >= self.bytes.len() {
                        return Ok(());
                    }
                    index += 1;
                }
            }
            b'"' => {
                self.string();
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while matches!(self.peek(), b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.at += 1;
                }
                let token = String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned();
                if survives(&token) {
                    Ok(())
                } else {
                    let pointer: String = path
                        .iter()
                        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
                        .collect();
                    Err((pointer, token))
                }
            }
            _ => {
                // true, false, null
                while self.peek().is_ascii_alphabetic() {
                    self.at += 1;
                }
                Ok(())
            }
        }
    }
}

/// A decimal number as (negative, significant digits without leading or trailing zeros,
/// exponent of the last digit); zero is ("", 0) whatever its sign or form.
fn decimal(token: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let mut exponent = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    exponent = exponent.checked_add(i64::try_from(digits.len() - trimmed.len()).ok()?)?;
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, trimmed.to_owned(), exponent))
}

/// Whether the number `token` is exactly the value of the double it is stored as.
fn survives(token: &str) -> bool {
    let Ok(double) = token.parse::<f64>() else {
        return false;
    };
    if !double.is_finite() {
        return false;
    }
    // `{:e}` is the shortest text that reads back as the same double.
    let stored = format!("{double:e}");
    match (decimal(token), decimal(&stored)) {
        (Some(given), Some(kept)) => given == kept,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_change_are_found_with_their_field() {
        for keeps in [
            "0",
            "-0",
            "1",
            "1.0",
            "1e2",
            "100",
            "0.1",
            "-2.5E-3",
            "9007199254740992",
        ] {
            assert!(survives(keeps), "{keeps}");
        }
        for changes in [
            "1e-400",
            "123456789012345678901234567890",
            "9007199254740993",
            "0.10000000000000001",
            "1e400",
        ] {
            assert!(!survives(changes), "{changes}");
        }
        let event = r#"{"data":{"readings":[1.5,{"v~/x":1e-400}],"n":3},"id":"a"}"#;
        assert_eq!(
            first_changed_number(event),
            Some(("/data/readings/1/v~0~1x".to_owned(), "1e-400".to_owned()))
        );
        assert_eq!(first_changed_number(r#"{"a":[],"b":{},"c":[1,2]}"#), None);
    }
}
