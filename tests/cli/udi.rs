//! UDI parsing (GS1, HIBCC, ICCBBA ISBT 128): valid and invalid cases of each form, the
//! simulator's labels, property tests (format, then parse, gives back the same fields) and the
//! CLI.

use crate::support::*;
use proptest::prelude::*;
use traceledger::udi::{Agency, gs1::gs1_check_digit, hibcc::check_character, parse};

const GS: char = '\u{1d}';

#[test]
fn the_three_gs1_forms_of_one_udi_agree() {
    let forms = [
        "(01)09506000134352(11)200101(17)201225(10)ABC123(21)SN-42".to_owned(),
        format!("]d20109506000134352112001011720122510ABC123{GS}21SN-42"),
        format!("{GS}0109506000134352112001011720122510ABC123{GS}21SN-42"),
        "https://id.gs1.org/01/09506000134352/10/ABC123/21/SN-42?11=200101&17=201225".to_owned(),
        "https://labels.example.com/dl/01/09506000134352/10/ABC123/21/SN-42?17=201225&11=200101&linkType=all".to_owned(),
    ];
    for form in &forms {
        let udi = parse(form).unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(udi.agency, Agency::Gs1);
        assert_eq!(udi.device_identifier, "09506000134352", "{form}");
        assert_eq!(udi.lot.as_deref(), Some("ABC123"), "{form}");
        assert_eq!(udi.serial.as_deref(), Some("SN-42"), "{form}");
        assert_eq!(udi.expiry.as_deref(), Some("2020-12-25"), "{form}");
        assert_eq!(udi.manufactured.as_deref(), Some("2020-01-01"), "{form}");
    }
}

#[test]
fn invalid_gs1_udis_name_the_position_and_the_rule() {
    let cases: &[(&str, usize, &str)] = &[
        ("(01)09506000134353(17)201225", 4, "check digit"),
        ("(01)0950600013435(17)201225", 4, "needs 14 characters"),
        ("(01)09506000134352(17)201325", 22, "month 13"),
        ("(01)09506000134352(17)210230", 22, "day 30"),
        ("(01)09506000134352(10)ABC\u{e9}", 25, "not allowed"),
        (
            "(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU",
            42,
            "at most 20",
        ),
        (
            "(01)09506000134352(99999)X",
            18,
            "(01) GTIN: at most 14 characters",
        ),
        (
            "(01)09506000134352(4444)X",
            24,
            "not a GS1 Application Identifier",
        ),
        ("(17)201225(10)A", 0, "(01) GTIN is missing"),
        (
            "(01)09506000134352(10)A(10)B",
            27,
            "more than once, with different data",
        ),
        (
            "0109506000134352XX",
            16,
            "no GS1 Application Identifier starts here",
        ),
        ("https://id.gs1.org/10/ABC", 18, "needs /01/"),
        (
            "https://id.gs1.org/01/09506000134352/10/AB%ZZ",
            42,
            "two hex digits",
        ),
    ];
    for (input, position, rule) in cases {
        let error = parse(input).unwrap_err();
        assert_eq!(error.position, *position, "{input}: {error}");
        assert!(error.rule.contains(rule), "{input}: {error}");
    }
}

/// Issue 16 §1: GS1 to the letter. Each case cites its rule in docs/udi.md.
#[test]
fn gs1_rules_of_the_dictionary_and_the_general_specifications() {
    use traceledger::udi::gs1::parse_in_year;
    let refused: &[(&str, usize, &str)] = &[
        // Digital Link: data attributes are not key qualifiers; qualifiers in their order;
        // only `?`-flagged AIs in the query.
        (
            "https://id.gs1.org/01/09506000134352/17/201225",
            40,
            "/17/ is a data attribute, not a key qualifier of (01): it belongs in the query",
        ),
        (
            "https://id.gs1.org/01/09506000134352/21/A/10/B",
            45,
            "the key qualifiers of (01) come in the order /22//10//21/ or /235/",
        ),
        (
            "https://id.gs1.org/01/09506000134352/10/B/235/X",
            46,
            "order /22//10//21/ or /235/",
        ),
        (
            "https://id.gs1.org/01/09506000134352?21=A",
            37,
            "?21= is not allowed: (21) SERIAL is not a GS1 Digital Link data attribute (it is a key qualifier of (01): it belongs in the path)",
        ),
        (
            "https://id.gs1.org/01/09506000134352?235=A",
            37,
            "?235= is not allowed",
        ),
        // AI 7003: hour and minute.
        (
            "(01)09506000134352(7003)2512152460",
            30,
            "(7003) EXPIRY TIME: 2460: hour 24",
        ),
        ("(01)09506000134352(7003)2512152360", 30, "minute 60"),
        // Repeated AIs with different data; pairing rules; country codes.
        ("(01)09506000134352(21)A(21)B", 27, "different data"),
        (
            "(01)09506000134352(02)09506000134352",
            22,
            "(02) may not appear with (01)",
        ),
        (
            "(01)09506000134352(250)X",
            23,
            "(250) SECONDARY SERIAL needs (01) with (21) or (03) with (21) or (8006) with (21)",
        ),
        (
            "(01)09506000134352(422)999",
            23,
            "999 is not an ISO 3166-1 numeric country code",
        ),
    ];
    let mut wrong = Vec::new();
    for (input, position, rule) in refused {
        match parse_in_year(input, 2026) {
            Err(e) if e.position == *position && e.rule.contains(rule) => {}
            other => wrong.push(format!("{input}: {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let accepted: &[(&str, &[(&str, &str)])] = &[
        // A fragment without a query is not data.
        (
            "https://id.gs1.org/01/09506000134352#x",
            &[("01", "09506000134352")],
        ),
        (
            "https://id.gs1.org/01/09506000134352/10/AB?17=201225#frag",
            &[("01", "09506000134352"), ("10", "AB"), ("17", "201225")],
        ),
        // A path prefix holding /01/ itself: the primary key is the last one that reads.
        (
            "https://example.com/01/shop/01/09506000134352/21/S1",
            &[("01", "09506000134352"), ("21", "S1")],
        ),
        (
            "https://example.com/dl/01/09506000134352/10/01/21/5",
            &[("01", "09506000134352"), ("10", "01"), ("21", "5")],
        ),
        // Qualifiers in order, some left out.
        (
            "https://id.gs1.org/01/09506000134352/22/V1/21/S",
            &[("01", "09506000134352"), ("22", "V1"), ("21", "S")],
        ),
        // The same AI twice with the same data: one label read twice.
        (
            "(01)09506000134352(21)A(21)A",
            &[("01", "09506000134352"), ("21", "A"), ("21", "A")],
        ),
        (
            "(01)09506000134352(422)372",
            &[("01", "09506000134352"), ("422", "372")],
        ),
        (
            "(01)09506000134352(7003)2512152359",
            &[("01", "09506000134352"), ("7003", "2512152359")],
        ),
        (
            "(01)09506000134352(21)A(250)B",
            &[("01", "09506000134352"), ("21", "A"), ("250", "B")],
        ),
    ];
    for (input, elements) in accepted {
        let udi = parse_in_year(input, 2026).unwrap_or_else(|e| panic!("{input}: {e}"));
        let expected: Vec<(String, String)> = elements
            .iter()
            .map(|(ai, value)| ((*ai).to_owned(), (*value).to_owned()))
            .collect();
        assert_eq!(udi.elements, expected, "{input}");
    }
    // Two-digit years: General Specifications §7.12, 49 years back and 50 ahead of today.
    let expiry = |input: &str, year: i64| parse_in_year(input, year).unwrap().expiry.unwrap();
    assert_eq!(expiry("(01)09506000134352(17)991231", 2026), "1999-12-31");
    assert_eq!(expiry("(01)09506000134352(17)761231", 2026), "2076-12-31");
    assert_eq!(expiry("(01)09506000134352(17)771231", 2026), "1977-12-31");
    assert_eq!(expiry("(01)09506000134352(17)991231", 2060), "2099-12-31");
    // And parse reads today's year from the clock: in this century, 00 is 2000.
    assert_eq!(
        parse("(01)09506000134352(17)000131")
            .unwrap()
            .expiry
            .as_deref(),
        Some("2000-01-31")
    );
}

#[test]
fn every_udi_the_simulator_prints_parses_to_its_unit() {
    let output = traceledger()
        .args(["simulate", "--units", "60", "--seed", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let mut gtins = std::collections::HashMap::new();
    let mut checked = 0;
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let data = &event["data"];
        match event["type"].as_str().unwrap() {
            "product.defined" => {
                gtins.insert(
                    data["product"].as_str().unwrap().to_owned(),
                    data["udi_di"].as_str().unwrap().to_owned(),
                );
            }
            "unit.started" => {
                let udi = parse(data["udi"].as_str().unwrap()).unwrap();
                assert_eq!(
                    Some(&udi.device_identifier),
                    gtins.get(data["product"].as_str().unwrap())
                );
                assert_eq!(udi.serial.as_deref(), data["unit"].as_str());
                checked += 1;
            }
            "lot.produced" => {
                let udi = parse(data["udi"].as_str().unwrap()).unwrap();
                assert_eq!(udi.lot.as_deref(), data["lot"].as_str());
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked > 60, "{checked}");
}

/// The GS1 characters allowed in lots and serials, without '(' which the parentheses form
/// cannot carry unescaped.
const LOT_CHARS: &str =
    "!\"%&'*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn gs1_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(LOT_CHARS.chars().collect::<Vec<_>>()),
        1..=20,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn date() -> impl Strategy<Value = (u32, u32, u32)> {
    (0u32..50, 1u32..=12, 0u32..=28)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn format_then_parse_gives_back_the_fields(
        body in "[0-9]{13}", lot in gs1_text(), serial in gs1_text(), expiry in date(),
    ) {
        let gtin = format!("{body}{}", gs1_check_digit(&body).unwrap());
        let yymmdd = format!("{:02}{:02}{:02}", expiry.0, expiry.1, expiry.2);
        let forms = [
            format!("(01){gtin}(17){yymmdd}(10){lot}(21){serial}"),
            format!("]d201{gtin}17{yymmdd}10{lot}{GS}21{serial}"),
            format!(
                "https://id.gs1.org/01/{gtin}/10/{lot_path}/21/{serial_path}?17={yymmdd}",
                lot_path = percent_encode(&lot),
                serial_path = percent_encode(&serial)
            ),
        ];
        for form in &forms {
            let udi = parse(form).map_err(|e| TestCaseError::fail(format!("{form}: {e}")))?;
            prop_assert_eq!(&udi.device_identifier, &gtin);
            prop_assert_eq!(udi.lot.as_deref(), Some(lot.as_str()));
            prop_assert_eq!(udi.serial.as_deref(), Some(serial.as_str()));
            let month = format!("20{year:02}-{month:02}-", year = expiry.0, month = expiry.1);
            prop_assert!(udi.expiry.as_deref().is_some_and(|e| e.starts_with(&month)));
        }
    }
}

#[test]
fn the_cli_parses_and_explains_a_bad_udi() {
    let output = traceledger()
        .args([
            "udi",
            "parse",
            "--json",
            "(01)09506000134352(17)201225(10)ABC123",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let udi: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(udi["agency"], "GS1");
    assert_eq!(udi["lot"], "ABC123");
    assert_eq!(udi["expiry"], "2020-12-25");

    let output = traceledger()
        .args(["udi", "parse", "(01)09506000134353"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("position 4") && stderr.contains("check digit"),
        "{stderr}"
    );
    assert!(stderr.contains("\n      ^"), "{stderr}");
}

#[test]
fn hibcc_in_one_symbol_and_in_two() {
    // The example of a public HIBC parser's documentation: primary, secondary ($$5: Julian
    // expiry 2020 day 015, lot 10X3), supplemental manufacture date and serial, check '-'.
    let udi = parse("+A99912345/$$52001510X3/16D20111212/S77DE1G45-").unwrap();
    assert_eq!(udi.agency, Agency::Hibcc);
    assert_eq!(udi.device_identifier, "A99912345");
    assert_eq!(udi.lot.as_deref(), Some("10X3"));
    assert_eq!(udi.expiry.as_deref(), Some("2020-01-15"));
    assert_eq!(udi.manufactured.as_deref(), Some("2011-12-12"));
    assert_eq!(udi.serial.as_deref(), Some("77DE1G45"));

    // The same data as two symbols, the secondary linked by the primary's check character.
    let primary = format!("+A99912345{}", check_character("+A99912345").unwrap());
    let link = primary.chars().last().unwrap();
    let secondary_body = format!("+$$52001510X3{link}");
    let secondary = format!(
        "{secondary_body}{}",
        check_character(&secondary_body).unwrap()
    );
    let two = parse(&format!("{primary} {secondary}")).unwrap();
    assert_eq!(two.device_identifier, "A99912345");
    assert_eq!(two.lot.as_deref(), Some("10X3"));
    assert_eq!(two.expiry.as_deref(), Some("2020-01-15"));

    // A secondary symbol with another primary's link character is refused.
    let wrong_link = "+$$52001510X3A";
    let wrong = format!("{wrong_link}{}", check_character(wrong_link).unwrap());
    let error = parse(&format!("{primary} {wrong}")).unwrap_err();
    assert!(error.rule.contains("link character"), "{error}");
}

/// Issue 16 §1: the Julian-date secondary (`YYJJJ` then the lot, no `$`), in one symbol and
/// in two; and a pair whose primary's check character is a space.
#[test]
fn hibcc_julian_secondary_and_a_space_check_character() {
    let with_check = |body: &str| format!("{body}{}", check_character(body).unwrap());
    let one = parse(&with_check("+A99912345/20015LOT7")).unwrap();
    assert_eq!(one.expiry.as_deref(), Some("2020-01-15"));
    assert_eq!(one.lot.as_deref(), Some("LOT7"));
    let no_lot = parse(&with_check("+A99912345/24366")).unwrap();
    assert_eq!(no_lot.expiry.as_deref(), Some("2024-12-31"));
    assert_eq!(no_lot.lot, None);
    let error = parse(&with_check("+A99912345/25366LOT")).unwrap_err();
    assert!(error.rule.contains("day 366"), "{error}");

    // +A99910011's values sum to a multiple of 43 plus 38: its check character is a space.
    assert_eq!(check_character("+A99910011"), Some(' '));
    let pair = parse("+A99910011  +$LOT1 L").unwrap();
    assert_eq!(pair.device_identifier, "A99910011");
    assert_eq!(pair.lot.as_deref(), Some("LOT1"));
    assert_eq!(check_character("+$LOT1 "), Some('L'));
    let julian_pair = parse(&format!("+A99910011  {}", with_check("+20015LOT1 "))).unwrap();
    assert_eq!(julian_pair.lot.as_deref(), Some("LOT1"));
    assert_eq!(julian_pair.expiry.as_deref(), Some("2020-01-15"));
}

#[test]
fn invalid_hibcc_names_the_position_and_the_rule() {
    let cases: &[(&str, &str)] = &[
        (
            "+A99912345/$$52001510X3/16D20111212/S77DE1G45A",
            "check character",
        ),
        ("+A999123a5X", "not a HIBC character"),
    ];
    for (input, rule) in cases {
        let error = parse(input).unwrap_err();
        assert!(error.rule.contains(rule), "{input}: {error}");
    }
    let with_check = |body: &str| format!("{body}{}", check_character(body).unwrap());
    for (body, rule) in [
        ("+A99912345/$$31313011AB", "month 13"),
        ("+A99912345/$$53036611AB", "day 366"),
        ("+A99912345/$$8051AB", "not supported"),
        ("+A99912345/X1", "begins with '$' or a Julian date YYJJJ"),
        ("+A9991234X", "one digit"),
        ("+199912345", "begins with a letter"),
    ] {
        let error = parse(&with_check(body)).unwrap_err();
        assert!(error.rule.contains(rule), "{body}: {error}");
    }
}

const HIBC_ID_CHARS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn hibcc_format_then_parse_gives_back_the_fields(
        lic in "[A-Z][A-Z0-9]{3}", pcn in "[A-Z0-9]{1,18}", unit_of_measure in 0u8..10,
        lot in prop::collection::vec(prop::sample::select(HIBC_ID_CHARS.chars().collect::<Vec<_>>()), 1..=18),
        expiry in date(), serial in "[A-Z0-9]{1,18}", form in 0usize..3,
    ) {
        let lot: String = lot.into_iter().collect();
        let yymmdd = format!("{:02}{:02}{:02}", expiry.0, expiry.1, expiry.2.max(1));
        let primary = format!("+{lic}{pcn}{unit_of_measure}");
        let secondary = match form {
            0 => format!("$$3{yymmdd}{lot}/S{serial}"),
            1 => format!("$$+3{yymmdd}{serial}/S{serial}"),
            _ => format!("${lot}/S{serial}"),
        };
        let body = format!("{primary}/{secondary}");
        let udi = parse(&format!("{body}{}", check_character(&body).unwrap()))
            .map_err(|e| TestCaseError::fail(format!("{body}: {e}")))?;
        prop_assert_eq!(udi.device_identifier, format!("{lic}{pcn}{unit_of_measure}"));
        prop_assert_eq!(udi.serial.as_deref(), Some(serial.as_str()));
        if form != 1 {
            prop_assert_eq!(udi.lot.as_deref(), Some(lot.as_str()));
        }
        if form != 2 {
            let want = format!("20{:02}-{:02}-{:02}", expiry.0, expiry.1, expiry.2.max(1));
            prop_assert_eq!(udi.expiry.as_deref(), Some(want.as_str()));
        }
    }
}

/// An ISBT 128 UDI of a device containing MPHO that ICCBBA and HL7 publish, with what they say
/// it means.
#[test]
fn isbt128_udis_published_by_iccbba_and_hl7_parse_to_their_fields() {
    // HL7 FHIR's Device example "example-udi2" (an HCT/P): a compound message of ICCBBA's
    // specified sequence 037, which FHIR reads as DI A9999XYZ100T0474, DIN A99971312345600,
    // manufactured 2013-02-01 and expiring 2014-02-01.
    let udi = parse("=+05037=/A9999XYZ100T0474=,000025=A99971312345600=>014032=}013032").unwrap();
    assert_eq!(udi.agency, Agency::Iccbba);
    assert_eq!(udi.device_identifier, "A9999XYZ100T0474");
    assert_eq!(
        udi.donation_identification_number.as_deref(),
        Some("A999713123456")
    );
    assert_eq!(udi.serial.as_deref(), Some("000025"));
    assert_eq!(udi.expiry.as_deref(), Some("2014-02-01"));
    assert_eq!(udi.manufactured.as_deref(), Some("2013-02-01"));
    assert_eq!(udi.lot, None);

    // ICCBBA ST-017 §5: the same UDI as a compound message, as its human-readable
    // interpretation (no compound header), from a Data Matrix scanner, and as separate
    // Code 128 symbols read one after another.
    let body = "=/A9999XYZ100T0476=,000025=A99971712345600=>019032=}017032&,1000000000000XYZ123";
    let forms = [
        format!("=+06000{body}"),
        body.to_owned(),
        format!("]d1=+06000{body}"),
        "]C0=/A9999XYZ100T0476 ]C0=A99971712345600 =,000025 =}017032 &,1000000000000XYZ123 =>019032\r\n".to_owned(),
    ];
    for form in &forms {
        let udi = parse(form).unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(udi.agency, Agency::Iccbba, "{form}");
        assert_eq!(udi.device_identifier, "A9999XYZ100T0476", "{form}");
        assert_eq!(udi.serial.as_deref(), Some("000025"), "{form}");
        assert_eq!(
            udi.donation_identification_number.as_deref(),
            Some("A999717123456"),
            "{form}"
        );
        assert_eq!(udi.expiry.as_deref(), Some("2019-02-01"), "{form}");
        assert_eq!(udi.manufactured.as_deref(), Some("2017-02-01"), "{form}");
        assert_eq!(udi.lot.as_deref(), Some("000000000000XYZ123"), "{form}");
        assert_eq!(udi.unit().as_deref(), Some("A999717123456000025"), "{form}");
    }
}

#[test]
fn invalid_isbt128_udis_name_the_position_and_the_rule() {
    // PPIC (18 characters with its data identifier), DIN (16), Product Divisions (8).
    let base = "=/A9997XYZ100T0479=A99991712345600=,000012";
    let with = |tail: &str| format!("{base}{tail}");
    let cases: Vec<(String, usize, &str)> = vec![
        // Wrong data identifiers: another ISBT 128 structure, none at all, a national one.
        (with("=<E0291000"), 42, "Product Code (data structure 003)"),
        (
            with("&>0193652359"),
            42,
            "Expiration Date and Time (data structure 005)",
        ),
        (with("=?123"), 42, "=? is not an ISBT 128 data identifier"),
        (with("&a12345"), 42, "defined nationally or by a facility"),
        (with(" X1"), 43, "begins with its data identifier"),
        // Wrong lengths.
        (
            "=/A9997XYZ100T047=A99991712345600=,000012".to_owned(),
            2,
            "has 16 characters of data; 15 found",
        ),
        (
            "=/A9997XYZ100T04790=A99991712345600=,000012".to_owned(),
            18,
            "more follow",
        ),
        (
            with("&,1XYZ123"),
            45,
            "MPHO Lot Number (&,1) has 18 characters of data; 6 found",
        ),
        // Bad characters: lower case, the letter O in a FIN, 0 opening a DIN, a bad flag.
        (
            "=/A9997XYZ100T047a=A99991712345600=,000012".to_owned(),
            17,
            "'a' is not allowed",
        ),
        (
            "=/O9997XYZ100T0479=A99991712345600=,000012".to_owned(),
            2,
            "a FIN character",
        ),
        (
            "=/A9997XYZ100T0479=099991712345600=,000012".to_owned(),
            19,
            "the DIN's first character",
        ),
        (
            "=/A9997XYZ100T0479=A999917123456I0=,000012".to_owned(),
            32,
            "a flag character",
        ),
        (
            "=/A9997XYZ100T0479=A99991712345601=,000012".to_owned(),
            32,
            "flag characters 01",
        ),
        // Dates: no day 366 in 2019, no day 000, a century ICCBBA's examples do not confirm.
        (with("=>019366"), 47, "day 366 of 2019 does not exist"),
        (with("=}019000"), 47, "day 000 of 2019"),
        (with("=>119031"), 44, "century digit 1"),
        // Duplicates and missing structures.
        (
            with("=,000013"),
            42,
            "Product Divisions (=,) appears more than once",
        ),
        (
            "=A99991712345600=,000012".to_owned(),
            0,
            "Processor Product Identification Code (=/, data structure 034): it is missing",
        ),
        (
            "=/A9997XYZ100T0479=,000012".to_owned(),
            0,
            "Donation Identification Number (=, data structure 001)",
        ),
        (
            "=/A9997XYZ100T0479=A99991712345600".to_owned(),
            0,
            "Product Divisions (=,, data structure 032)",
        ),
        // Compound messages.
        (
            format!("=+04000{base}"),
            49,
            "announces 4 data structures (=+04...); 3 follow",
        ),
        (
            format!("=+02000{base}"),
            41,
            "announces 2 data structures (=+02...); one more begins here",
        ),
        (
            "=+03000=,000012=/A9997XYZ100T0479=A99991712345600".to_owned(),
            7,
            "begins with its device identifier",
        ),
        (
            format!("=+03034{base}"),
            25,
            "sequence 034 has Product Divisions (=,) (data structure 032) here",
        ),
        (
            format!("=+03099{base}"),
            4,
            "sequence 099 is not one ST-017 specifies",
        ),
        (
            format!("=+04034{base}"),
            2,
            "sequence 034 has 3 data structures, not 4",
        ),
        (
            "=+03000=/A9997XYZ100T0479 =A99991712345600=,000012".to_owned(),
            25,
            "nothing may come between",
        ),
        (with("=+03000"), 42, "comes first"),
        (
            format!("]d2{base}"),
            0,
            "]d2 does not announce ISBT 128 data",
        ),
    ];
    for (input, position, rule) in &cases {
        let error = parse(input).unwrap_err();
        assert_eq!(error.position, *position, "{input}: {error}");
        assert!(error.rule.contains(rule), "{input}: {error}");
    }
}

/// The day of the year of a date, counted here without the library's calendar.
fn day_of_year(year: u32, month: u32, day: u32) -> u32 {
    const BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    BEFORE_MONTH[month as usize - 1] + day + u32::from(leap && month > 2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn isbt128_format_then_parse_gives_back_the_fields(
        fin in "[A-NP-Z0-9]{5}",
        product_code in "[A-Z0-9]{11}",
        din in "[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{10}",
        divisions in "[A-Z0-9]{6}",
        lot in "[A-Z0-9]{18}",
        expiry in date(),
        made in date(),
        order in Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        form in 0usize..4,
    ) {
        let expiry = (2000 + expiry.0, expiry.1, expiry.2.max(1));
        let made = (2000 + made.0, made.1, made.2.max(1));
        let cyyjjj = |(year, month, day): (u32, u32, u32)| {
            format!("0{:02}{:03}", year % 100, day_of_year(year, month, day))
        };
        let ppic = format!("=/{fin}{product_code}");
        let production_identifiers = [
            format!("={din}00"),
            format!("=,{divisions}"),
            format!("=>{}", cyyjjj(expiry)),
            format!("=}}{}", cyyjjj(made)),
            format!("&,1{lot}"),
        ];
        let shuffled: Vec<&str> = order.iter().map(|&i| production_identifiers[i].as_str()).collect();
        let input = match form {
            // An unspecified compound message: the PPIC first, then any order.
            0 => format!("=+06000{ppic}{}", shuffled.concat()),
            // ICCBBA's specified sequence 037 (no lot).
            1 => format!(
                "]d1=+05037{ppic}{}{}{}{}",
                production_identifiers[1], production_identifiers[0],
                production_identifiers[2], production_identifiers[3]
            ),
            // The human-readable interpretation, run together.
            2 => format!("{ppic}{}", shuffled.concat()),
            // Separate Code 128 symbols, PPIC anywhere.
            _ => {
                let mut symbols = shuffled.clone();
                symbols.insert(order[0], &ppic);
                format!("]C0{}", symbols.join(" ]C0"))
            }
        };
        let udi = parse(&input).map_err(|e| TestCaseError::fail(format!("{input}: {e}")))?;
        prop_assert_eq!(udi.agency, Agency::Iccbba);
        prop_assert_eq!(&udi.device_identifier, &format!("{fin}{product_code}"));
        prop_assert_eq!(udi.donation_identification_number.as_deref(), Some(din.as_str()));
        prop_assert_eq!(udi.serial.as_deref(), Some(divisions.as_str()));
        let iso = |(year, month, day): (u32, u32, u32)| format!("{year:04}-{month:02}-{day:02}");
        prop_assert_eq!(udi.expiry, Some(iso(expiry)));
        prop_assert_eq!(udi.manufactured, Some(iso(made)));
        if form != 1 {
            prop_assert_eq!(udi.lot.as_deref(), Some(lot.as_str()));
        }
    }
}

#[test]
fn the_cli_reads_an_isbt128_udi_and_shows_where_one_breaks() {
    let output = traceledger()
        .args([
            "udi",
            "parse",
            "=+04035=/A9997XYZ100T0479=,000012=A99991712345600=>019031",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "agency:          ICCBBA",
        "device id (DI):  A9997XYZ100T0479",
        "serial:          000012",
        "expiry:          2019-01-31",
        "donation (DIN):  A999917123456",
        "elements:        =+04035  =/A9997XYZ100T0479  =,000012  =A99991712345600  =>019031",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");
    }

    let output = traceledger()
        .args([
            "udi",
            "parse",
            "--json",
            "=/A9997XYZ100T0479=A99991712345600=,000012",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let udi: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(udi["agency"], "ICCBBA");
    assert_eq!(udi["donation_identification_number"], "A999917123456");
    assert_eq!(
        udi["elements"][1],
        serde_json::json!(["=", "A99991712345600"])
    );

    let output = traceledger()
        .args([
            "udi",
            "parse",
            "=/A9997XYZ100T0479=A99991712345600=,000012=>019366",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("position 47: expiry date: day 366 of 2019 does not exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("\n  {}^", " ".repeat(47))),
        "{stderr}"
    );
}

/// `udi parse -`: a label audit in one process. Each input line gives one result line with
/// its number, in order; bad lines are results too; exit 2 when any failed.
#[test]
fn a_batch_from_stdin_gives_one_result_per_line_in_order() {
    let lines = [
        "(01)09506000134352(17)201225(10)ABC123",
        "(01)09506000134353(17)201225",
        "+A99912345/$$52001510X3/16D20111212/S77DE1G45-",
        "",
        "=+04035=/A9997XYZ100T0479=,000012=A99991712345600=>019031",
    ];
    let input = lines.join("\r\n") + "\n";
    let output = traceledger()
        .args(["udi", "parse", "-"])
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 of 5 lines"), "{stderr}");
    let results: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), lines.len());
    for (index, (result, line)) in results.iter().zip(lines).enumerate() {
        assert_eq!(result["line"], index + 1);
        assert_eq!(result["input"], line);
        // The batch says what parsing the line alone says.
        match parse(line) {
            Ok(udi) => {
                assert_eq!(result["ok"], true);
                assert_eq!(result["udi"]["device_identifier"], udi.device_identifier);
                assert_eq!(result["udi"], serde_json::to_value(&udi).unwrap());
            }
            Err(e) => {
                assert_eq!(result["ok"], false);
                assert_eq!(result["error"]["position"], e.position);
                assert_eq!(result["error"]["rule"], e.rule);
            }
        }
    }

    // CSV: a header and one row per line; all good lines exit 0.
    let good = format!("{}\n{}\n", lines[0], lines[2]);
    let output = traceledger()
        .args(["udi", "parse", "-", "--csv"])
        .write_stdin(good)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("line,input,ok,agency,device_identifier,lot,serial"));
    assert!(rows[1].starts_with(
        "1,(01)09506000134352(17)201225(10)ABC123,true,GS1,09506000134352,ABC123,,2020-12-25,"
    ));
    assert!(rows[2].starts_with("2,"), "{}", rows[2]);
    assert!(rows[2].contains(",true,HIBCC,A99912345"), "{}", rows[2]);

    // Nothing to read is said, not taken for success.
    let output = traceledger()
        .args(["udi", "parse", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("empty"));
}

/// `udi parse X | head -1` and a batch into `head`: a closed standard output ends the process
/// quietly, with no panic.
#[test]
fn a_closed_stdout_ends_udi_parse_quietly() {
    let binary = env!("CARGO_BIN_EXE_traceledger");
    let many: String = (0..20_000).map(|_| "(01)09506000134352(10)A\n").collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), many).unwrap();
    for command in [
        format!("{binary} udi parse '(01)09506000134352(10)A' | head -1"),
        format!("{binary} udi parse - < in.txt | head -1"),
        format!("{binary} udi parse - --csv < in.txt | head -1"),
    ] {
        let output = std::process::Command::new("bash")
            .args(["-c", &format!("set -o pipefail; {command}")])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{command}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    }
}
