//! The GS1 Application Identifier table, read from the GS1 Barcode Syntax Dictionary
//! (`data/gs1-syntax-dictionary.txt`, Apache-2.0, GS1 AISBL) embedded at build time.
//!
//! Taking GS1's own machine-readable table instead of a hand-copied list means every AI of the
//! General Specifications is known, with its lengths, character sets and check routines.

use std::collections::HashMap;
use std::sync::OnceLock;

const DICTIONARY: &str = include_str!("data/gs1-syntax-dictionary.txt");

/// The character set of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Digits.
    N,
    /// GS1 AI encodable character set 82.
    X,
    /// GS1 AI encodable character set 39.
    Y,
    /// base64url.
    Z,
}

/// One component of an AI's data field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub charset: Charset,
    pub min: usize,
    pub max: usize,
    pub optional: bool,
    /// Names of the GS1 linter routines that validate it (`csum`, `yymmd0`, ...).
    pub linters: Vec<String>,
}

/// One AI as the dictionary defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiDefinition {
    pub ai: String,
    /// Predefined length: never followed by a separator in the raw form.
    pub fixed_length: bool,
    pub components: Vec<Component>,
    pub title: String,
}

impl AiDefinition {
    /// The longest data the AI can carry.
    pub fn max_len(&self) -> usize {
        self.components.iter().map(|c| c.max).sum()
    }
}

/// Every AI of the dictionary, by AI; a range such as `3100-3105` gives one entry each.
pub fn table() -> &'static HashMap<String, AiDefinition> {
    static TABLE: OnceLock<HashMap<String, AiDefinition>> = OnceLock::new();
    TABLE.get_or_init(|| parse_dictionary(DICTIONARY))
}

/// The definition of `ai`, if GS1 defines it.
pub fn lookup(ai: &str) -> Option<&'static AiDefinition> {
    table().get(ai)
}

fn parse_dictionary(text: &str) -> HashMap<String, AiDefinition> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let (body, title) = match line.split_once('#') {
            Some((body, title)) => (body, title.trim()),
            None => (line, ""),
        };
        let mut tokens = body.split_whitespace();
        let Some(ais) = tokens.next() else { continue };
        if !ais.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let mut fixed_length = false;
        let mut components = Vec::new();
        for token in tokens {
            if token
                .chars()
                .all(|c| "*!?\"$%&'()+,-./:;<=>@\\^_`{|}~".contains(c))
            {
                fixed_length |= token.contains('*');
            } else if let Some(component) = parse_component(token) {
                components.push(component);
            }
            // Anything else is an attribute (req=, ex=, dlpkey): association rules that this
            // parser does not enforce.
        }
        let (low, high) = ais.split_once('-').unwrap_or((ais, ais));
        let (Ok(low_n), Ok(high_n)) = (low.parse::<u32>(), high.parse::<u32>()) else {
            continue;
        };
        for n in low_n..=high_n {
            let ai = format!("{n:0width$}", width = low.len());
            out.insert(
                ai.clone(),
                AiDefinition {
                    ai,
                    fixed_length,
                    components: components.clone(),
                    title: title.to_owned(),
                },
            );
        }
    }
    out
}

/// `N13,csum,gcppos1`, `X..20`, `[N..12]`.
fn parse_component(token: &str) -> Option<Component> {
    let (optional, token) = match token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => (true, inner),
        None => (false, token),
    };
    let mut parts = token.split(',');
    let spec = parts.next()?;
    let charset = match spec.chars().next()? {
        'N' => Charset::N,
        'X' => Charset::X,
        'Y' => Charset::Y,
        'Z' => Charset::Z,
        _ => return None,
    };
    let length = &spec[1..];
    let (min, max) = match length.strip_prefix("..") {
        Some(max) => (1, max.parse().ok()?),
        None => {
            let fixed = length.parse().ok()?;
            (fixed, fixed)
        }
    };
    Some(Component {
        charset,
        min,
        max,
        optional,
        linters: parts.map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_udi_ais_are_defined_as_gs1_says() {
        let gtin = lookup("01").unwrap();
        assert!(gtin.fixed_length);
        assert_eq!(gtin.components[0].charset, Charset::N);
        assert_eq!((gtin.components[0].min, gtin.components[0].max), (14, 14));
        assert!(gtin.components[0].linters.contains(&"csum".to_owned()));
        let lot = lookup("10").unwrap();
        assert!(!lot.fixed_length);
        assert_eq!((lot.components[0].min, lot.components[0].max), (1, 20));
        for ai in ["11", "17", "21", "30", "240", "241", "7240", "8013", "3103"] {
            assert!(lookup(ai).is_some(), "AI {ai}");
        }
        assert!(lookup("3106").is_none());
        assert_eq!(lookup("253").unwrap().components.len(), 2);
        assert!(lookup("253").unwrap().components[1].optional);
        assert!(table().len() > 400, "{} AIs", table().len());
    }
}
