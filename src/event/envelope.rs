//! The envelope fields that the ledger repeats as columns (id, type, occurred_at, site,
//! actor), read from an event's JSON text.
//!
//! `verify` reads them from every record to check the columns against the hashed text. A
//! general JSON parser spent a fifth of that walk building what it then threw away, so a
//! strict scanner reads the common case: it checks the whole text against the JSON grammar
//! and borrows the five strings. Whatever it is not sure of (an escape in any string, a
//! repeated key, a value of the wrong type, deep nesting, any error) goes to serde_json, whose
//! answer is the reference: the scanner answers only where the two agree (a property test
//! holds it to that).

use serde::Deserialize;
use std::borrow::Cow;

/// The fields of an event that the `records` table repeats as columns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EnvelopeFields<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    pub event_type: Cow<'a, str>,
    #[serde(borrow)]
    pub occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    pub site: Cow<'a, str>,
    #[serde(borrow, default)]
    pub actor: Option<Cow<'a, str>>,
}

/// The envelope fields of `text`, a whole event object.
///
/// # Errors
/// serde_json's message when `text` is not a JSON object with the four string fields (and
/// `actor` a string or null, if present).
pub fn envelope_fields(text: &str) -> Result<EnvelopeFields<'_>, String> {
    match Scanner::new(text).envelope() {
        Some(fields) => Ok(fields),
        None => serde_json::from_str(text).map_err(|e| e.to_string()),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `word` is zero (exact, as a yes or no).
fn has_zero(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Whether no byte of `word` is a quote, a backslash or a control character (below 0x20):
/// all eight can be skipped inside a string.
fn plain_word(word: u64) -> bool {
    // A byte below 0x20 is a byte whose value minus 0x20 borrows into its high bit while
    // its own high bit was clear.
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    !(control
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\'))))
}

/// Nesting beyond this goes to serde_json (which stops at 128).
const DEPTH_MAX: usize = 64;

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// The top-level object; `None` for anything the scanner leaves to serde_json.
    fn envelope(mut self) -> Option<EnvelopeFields<'a>> {
        let mut fields: [Option<&'a str>; 4] = [None; 4];
        let mut actor: Option<Option<&'a str>> = None;
        self.whitespace();
        self.eat(b'{')?;
        self.whitespace();
        if self.eat(b'}').is_none() {
            loop {
                self.whitespace();
                let key = self.string()?;
                self.whitespace();
                self.eat(b':')?;
                self.whitespace();
                let slot = match key {
                    "id" => Some(0),
                    "type" => Some(1),
                    "occurred_at" => Some(2),
                    "site" => Some(3),
                    _ => None,
                };
                if let Some(slot) = slot {
                    if fields[slot].is_some() {
                        return None;
                    }
                    fields[slot] = Some(self.string()?);
                } else if key == "actor" {
                    if actor.is_some() {
                        return None;
                    }
                    actor = Some(if self.peek() == Some(b'n') {
                        self.literal("null")?;
                        None
                    } else {
                        Some(self.string()?)
                    });
                } else {
                    self.value(1)?;
                }
                self.whitespace();
                if self.eat(b',').is_none() {
                    self.eat(b'}')?;
                    break;
                }
            }
        }
        self.whitespace();
        if self.at != self.text.len() {
            return None;
        }
        let [Some(id), Some(event_type), Some(occurred_at), Some(site)] = fields else {
            return None;
        };
        Some(EnvelopeFields {
            id: Cow::Borrowed(id),
            event_type: Cow::Borrowed(event_type),
            occurred_at: Cow::Borrowed(occurred_at),
            site: Cow::Borrowed(site),
            actor: actor.flatten().map(Cow::Borrowed),
        })
    }

    /// A string without escapes, borrowed; `None` for an escape, a control character or
    /// no closing quote.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        // Eight bytes at a time while none of them ends the string or needs a closer look;
        // then byte by byte.
        while let Some(word) = bytes.get(self.at..self.at + 8) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            if plain_word(u64::from_le_bytes(eight)) {
                self.at += 8;
            } else {
                break;
            }
        }
        loop {
            match bytes.get(self.at)? {
                b'"' => break,
                b'\\' => return None,
                byte if *byte < 0x20 => return None,
                _ => self.at += 1,
            }
        }
        // Both ends are ASCII quotes, so the slice is on character boundaries.
        let inside = self.text.get(start..self.at)?;
        self.at += 1;
        Some(inside)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.as_bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// Skips one value, checking its grammar.
    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > DEPTH_MAX {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.container(b'}', depth, true),
            b'[' => self.container(b']', depth, false),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn container(&mut self, close: u8, depth: usize, keyed: bool) -> Option<()> {
        self.at += 1;
        self.whitespace();
        if self.eat(close).is_some() {
            return Some(());
        }
        loop {
            self.whitespace();
            if keyed {
                self.string()?;
                self.whitespace();
                self.eat(b':')?;
                self.whitespace();
            }
            self.value(depth + 1)?;
            self.whitespace();
            if self.eat(b',').is_none() {
                return self.eat(close);
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    /// RFC 8259: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        if self.eat(b'0').is_none() {
            if !matches!(self.peek(), Some(b'1'..=b'9')) {
                return None;
            }
            self.digits();
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_serde(text: &str) -> Result<EnvelopeFields<'_>, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    const EVENT: &str = r#"{"actor":"p-GAL-07","data":{"lot":"L-1","n":[1,-2.5e3,0,true,null,{}],"note":"x"},"id":"e-1","occurred_at":"2026-01-05T10:00:00Z","signatures":[],"site":"GAL","type":"lot.received"}"#;

    #[test]
    fn a_canonical_event_is_read_by_the_scanner_as_serde_reads_it() {
        let fast = Scanner::new(EVENT)
            .envelope()
            .expect("the scanner reads it");
        assert_eq!(fast, by_serde(EVENT).unwrap());
        assert_eq!(fast.actor.as_deref(), Some("p-GAL-07"));
    }

    #[test]
    fn what_the_scanner_leaves_goes_to_serde() {
        for text in [
            // An escape in a wanted string, a repeated key, a key spelled with an escape.
            r#"{"id":"e\"1","occurred_at":"t","site":"GAL","type":"x"}"#,
            r#"{"id":"e-1","id":"e-2","occurred_at":"t","site":"GAL","type":"x"}"#,
            r#"{"\u0069d":"e-1","occurred_at":"t","site":"GAL","type":"x"}"#,
            // Not an event: a number where a string belongs, a missing field, junk after, a
            // number with a leading zero.
            r#"{"id":1,"occurred_at":"t","site":"GAL","type":"x"}"#,
            r#"{"occurred_at":"t","site":"GAL","type":"x"}"#,
            r#"{"id":"e-1","occurred_at":"t","site":"GAL","type":"x"} x"#,
            r#"{"data":01,"id":"e-1","occurred_at":"t","site":"GAL","type":"x"}"#,
        ] {
            assert_eq!(Scanner::new(text).envelope(), None, "{text}");
            assert_eq!(envelope_fields(text), by_serde(text), "{text}");
        }
        let escaped = envelope_fields(r#"{"id":"e\"1","occurred_at":"t","site":"GAL","type":"x"}"#);
        assert_eq!(escaped.unwrap().id, "e\"1");
        let no_actor = r#"{"actor":null,"id":"e-1","occurred_at":"t","site":"GAL","type":"x"}"#;
        assert_eq!(Scanner::new(no_actor).envelope().unwrap().actor, None);
        assert_eq!(envelope_fields(no_actor), by_serde(no_actor));
    }

    #[test]
    fn a_plain_word_has_no_quote_backslash_or_control_character() {
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..8 {
                let mut eight = *b"abcdefgh";
                eight[at] = special;
                assert!(
                    !plain_word(u64::from_le_bytes(eight)),
                    "{special:#x} at {at}"
                );
            }
        }
        for plain in [
            *b"abcdefgh",
            *b" !#[]~\x7f\x20",
            [0xc3, 0xa9, 0xe2, 0x82, 0xac, b'x', 0xff, 0x80],
        ] {
            assert!(plain_word(u64::from_le_bytes(plain)), "{plain:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn plain_word_is_the_byte_by_byte_answer(eight in proptest::array::uniform8(any::<u8>())) {
            let bytewise = eight.iter().all(|&b| b != b'"' && b != b'\\' && b >= 0x20);
            prop_assert_eq!(plain_word(u64::from_le_bytes(eight)), bytewise);
        }

        /// Wherever the scanner answers, serde_json gives the same answer, for the event cut
        /// short and with any one character replaced.
        #[test]
        fn the_scanner_agrees_with_serde(
            keep in 1usize..=EVENT.len(),
            at in 0usize..EVENT.len(),
            byte in 0u8..128,
        ) {
            let mut bytes = EVENT.as_bytes().to_vec();
            // An ASCII byte into an ASCII text: still UTF-8.
            bytes[at] = byte;
            bytes.truncate(keep);
            let text = String::from_utf8(bytes).unwrap();
            if let Some(fast) = Scanner::new(&text).envelope() {
                prop_assert_eq!(Ok(fast), by_serde(&text));
            }
            prop_assert_eq!(envelope_fields(&text), by_serde(&text));
        }
    }
}
