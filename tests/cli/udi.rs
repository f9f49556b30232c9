//! UDI parsing (GS1 so far): valid and invalid cases of each form, the simulator's labels, a
//! property test (format, then parse, gives back the same fields) and the CLI.

use crate::support::*;
use proptest::prelude::*;
use traceledger::udi::{Agency, gs1::gs1_check_digit, parse};

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
        ("(01)09506000134352(10)A(10)B", 22, "more than once"),
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
