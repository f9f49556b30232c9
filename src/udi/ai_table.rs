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
    /// Flag `?`: may be a data attribute in a GS1 Digital Link URI's query.
    pub dl_attribute: bool,
    /// `req=`: each entry must be met by one of its alternatives, an alternative being a
    /// group of AI patterns that must all be present (`01+21`; `n` stands for any digit).
    pub requires: Vec<Vec<Vec<String>>>,
    /// `ex=`: AI patterns that may not appear with this AI.
    pub excludes: Vec<String>,
    /// `dlpkey`: a GS1 Digital Link primary key, with its alternative sequences of ordered,
    /// optional key qualifiers (`dlpkey=22,10,21|235`; one empty sequence for a bare `dlpkey`).
    pub dl_primary_key: Option<Vec<Vec<String>>>,
}

/// Whether `ai` matches a dictionary pattern: the same length, `n` for any digit.
pub fn matches_pattern(ai: &str, pattern: &str) -> bool {
    ai.len() == pattern.len()
        && ai
            .bytes()
            .zip(pattern.bytes())
            .all(|(a, p)| a == p || (p == b'n' && a.is_ascii_digit()))
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
        let mut dl_attribute = false;
        let mut components = Vec::new();
        let mut requires = Vec::new();
        let mut excludes = Vec::new();
        let mut dl_primary_key = None;
        for token in tokens {
            if token
                .chars()
                .all(|c| "*!?\"$%&'()+,-./:;<=>@\\^_`{|}~".contains(c))
            {
                fixed_length |= token.contains('*');
                dl_attribute |= token.contains('?');
            } else if let Some(list) = token.strip_prefix("req=") {
                requires.push(
                    list.split(',')
                        .map(|group| group.split('+').map(str::to_owned).collect())
                        .collect(),
                );
            } else if let Some(list) = token.strip_prefix("ex=") {
                excludes.extend(list.split(',').map(str::to_owned));
            } else if token == "dlpkey" {
                dl_primary_key = Some(vec![Vec::new()]);
            } else if let Some(list) = token.strip_prefix("dlpkey=") {
                dl_primary_key = Some(
                    list.split('|')
                        .map(|sequence| sequence.split(',').map(str::to_owned).collect())
                        .collect(),
                );
            } else if let Some(component) = parse_component(token) {
                components.push(component);
            }
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
                    dl_attribute,
                    requires: requires.clone(),
                    excludes: excludes.clone(),
                    dl_primary_key: dl_primary_key.clone(),
                },
            );
        }
    }
    out
}

/// `N13,csum,gcppos1`, `X..20`, `[N..12]`.
fn parse_component(token: &str) -> Option<Component> {
    // An optional component is bracketed, its linters after the bracket: `[N4],hhmi`.
    let (optional, token) = match token.strip_prefix('[').and_then(|t| t.split_once(']')) {
        Some((inner, linters)) => (true, (inner, linters)),
        None => (false, (token, "")),
    };
    let (token, bracket_linters) = token;
    let mut parts = token.split(',').chain(
        bracket_linters
            .split(',')
            .filter(|linter| !linter.is_empty()),
    );
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
        // An optional component keeps its linters: `[N4],hhmi`, `[N3],iso3166`.
        let test_by = &lookup("7011").unwrap().components[1];
        assert!(test_by.optional && test_by.linters == ["hhmi"]);
        assert_eq!(lookup("423").unwrap().components.len(), 5);
        assert!(table().len() > 400, "{} AIs", table().len());
    }

    #[test]
    fn the_association_and_digital_link_attributes_are_read() {
        let gtin = lookup("01").unwrap();
        assert_eq!(gtin.excludes, ["255", "37"]);
        assert_eq!(
            gtin.dl_primary_key,
            Some(vec![
                vec!["22".to_owned(), "10".to_owned(), "21".to_owned()],
                vec!["235".to_owned()]
            ])
        );
        assert!(lookup("17").unwrap().dl_attribute);
        assert!(!lookup("21").unwrap().dl_attribute);
        assert_eq!(
            lookup("250").unwrap().requires,
            [[["01", "21"], ["03", "21"], ["8006", "21"]]]
        );
        assert!(matches_pattern("3103", "31nn"));
        assert!(!matches_pattern("310", "31nn"));
    }
}
