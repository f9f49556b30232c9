//! The UDI front door (issue 12 §2): every command that takes a unit or lot takes a UDI in
//! any printed or scanned form, resolves it by device identifier and serial (or lot), and
//! refuses a UDI whose device identifier is another product's.

use crate::support::*;

const GS: char = '\u{1d}';

#[test]
fn a_scanned_label_opens_the_dhr_the_audit_trail_the_log_and_the_bundle() {
    let ledger = Ledger::with_plant();
    let by_serial = stdout_of(ledger.run(&["dhr", "IP3K-260001", "--json"]));
    for scanned in [
        "(01)05399123450010(11)261120(21)IP3K-260001".to_owned(),
        format!("]d2010539912345001021IP3K-260001{GS}11261120"),
        "https://id.gs1.org/01/05399123450010/21/IP3K-260001".to_owned(),
    ] {
        let by_udi = stdout_of(ledger.run(&["dhr", &scanned, "--json"]));
        assert_eq!(by_udi, by_serial, "{scanned:?}");
        let log = stdout_of(ledger.run(&["log", "--entity", &scanned, "--json"]));
        assert!(log.lines().count() > 5, "{scanned:?}");
        let audit = stdout_of(ledger.run(&["audit", "--entity", &scanned, "--json"]));
        assert_eq!(
            audit.lines().count(),
            log.lines().count(),
            "{scanned:?}: the same records"
        );
    }
    // A lot-controlled product's lot by its UDI (DI and lot).
    let lot = stdout_of(ledger.run(&["dhr", "CK7F-2611A", "--json"]));
    let lot_udi = stdout_of(ledger.run(&["dhr", "(01)05399123450034(10)CK7F-2611A", "--json"]));
    assert_eq!(lot_udi, lot);
    let bundle = ledger.file("b.json");
    ledger
        .run(&[
            "export",
            &format!("]C1010539912345001021IP3K-260001{GS}11261120"),
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .assert()
        .success();
    let made: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(made["subject"], "IP3K-260001");
}

#[test]
fn another_products_udi_with_a_matching_serial_is_refused_naming_both_device_identifiers() {
    let ledger = Ledger::with_plant();
    // The module's GTIN with the pump's serial: a wrong label, not our pump.
    let wrong = "(01)05399123450027(21)IP3K-260001";
    for command in [
        vec!["dhr", wrong],
        vec!["log", "--entity", wrong],
        vec!["audit", "--entity", wrong],
    ] {
        let out = ledger.run(&command).output().unwrap();
        assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT), "{command:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("05399123450027") && stderr.contains("05399123450010"),
            "{command:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{command:?}: nothing printed");
    }
    // Unknown serial, and text that is no UDI: clear errors, exit 2.
    let out = ledger
        .run(&["dhr", "(01)05399123450010(21)NOPE"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT));
    let out = ledger.run(&["dhr", "(01)0539912345001"]).output().unwrap();
    assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid UDI"));
}

#[test]
fn a_label_names_its_serial_and_nothing_else_and_a_bare_element_string_is_read_too() {
    let ledger = Ledger::with_plant();
    // An unknown serial whose lot value happens to be another unit's serial opens nothing.
    for label in [
        "(01)05399123450010(10)IP3K-260001(21)IP3K-299999",
        "(01)05399123450010(10)IP3K-260001",
    ] {
        let out = ledger.run(&["dhr", label]).output().unwrap();
        assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT), "{label}");
        assert!(out.stdout.is_empty(), "{label}");
    }
    // A scanner set to send no symbology identifier reports the bare element string.
    let bare = format!("010539912345001021IP3K-260001{GS}11261120");
    assert_eq!(
        stdout_of(ledger.run(&["dhr", &bare, "--json"])),
        stdout_of(ledger.run(&["dhr", "IP3K-260001", "--json"]))
    );
}
