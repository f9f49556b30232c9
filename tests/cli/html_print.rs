//! The printed DHR as a person sees it (issue 12 §5): the HTML page rendered by a real
//! headless Chromium to PDF, its text read back with pdftotext. `.ci/run` installs both
//! (Debian's chromium and poppler-utils); without them this test fails, it never skips.

use crate::support::*;
use std::path::Path;
use std::process::Command;

fn printed_text(html: &str, dir: &Path, name: &str) -> String {
    let page = dir.join(format!("{name}.html"));
    let pdf = dir.join(format!("{name}.pdf"));
    std::fs::write(&page, html).unwrap();
    let profile = dir.join(format!("chromium-{name}"));
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium must be installed (apt-get install chromium; .ci/run does it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext must be installed (apt-get install poppler-utils; .ci/run does it)");
    assert!(text.status.success());
    String::from_utf8(text.stdout).unwrap()
}

/// The printed page without white space: the layout breaks lines (even inside "p-1201"),
/// so text is compared with its white space removed.
fn words(text: &str) -> String {
    text.split_whitespace().collect()
}

fn has(page: &str, needle: &str) -> bool {
    page.contains(&words(needle))
}

#[test]
fn the_printed_dhr_puts_exceptions_first_and_shows_release_correction_and_scrap() {
    let ledger = Ledger::with_plant();
    // A correction on the reworked pump's failed step, so the page has a corrected row.
    let correction = serde_json::json!({"id": "h-c1", "type": "correction.recorded",
        "occurred_at": "2026-11-21T10:00:00Z", "site": "GAL", "source": "cli:sobrien",
        "actor": "p-1201", "data": {"corrects": "01M7W4Q8YEEQ18HT0HTC8R9YS7",
        "reason": "occlusion pressure read from the wrong channel",
        "changes": {"data.measurements[1].value": 79.5}}});
    let input = ledger.file("c.ndjson");
    std::fs::write(
        &input,
        signed(&correction.to_string(), "k-1201", "p-1201", "authored"),
    )
    .unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();

    let html = stdout_of(ledger.run(&["dhr", "IP3K-260002", "--html"]));
    let page = words(&printed_text(&html, ledger.dir.path(), "pump"));
    let at = |needle: &str| {
        page.find(&words(needle))
            .unwrap_or_else(|| panic!("{needle:?} not printed: {page}"))
    };
    // Exceptions first, before the operations they point at.
    assert!(at("Exceptions (2)") < at("Operations ("));
    assert!(
        has(&page, "flow accuracy") || has(&page, "flow_accuracy"),
        "{page}"
    );
    assert!(has(&page, "OUT OF LIMITS"), "{page}");
    // The release line with the signature's meaning and time, and the printed name.
    assert!(
        has(&page, "signed released by Siobhán O'Brien (p-1201) at"),
        "{page}"
    );
    assert!(has(&page, "Reviewed by (printed name)"));

    let html = stdout_of(ledger.run(&["dhr", "IP3K-260001", "--html"]));
    let page = words(&printed_text(&html, ledger.dir.path(), "corrected"));
    assert!(has(&page, "(corrected, seq"), "{page}");
    assert!(
        has(&page, "/data/measurements/1/value: 78.5 -> 79.5"),
        "{page}"
    );

    // Who scrapped the removed module and why.
    let html = stdout_of(ledger.run(&["dhr", "PM-26-00018", "--html"]));
    let page = words(&printed_text(&html, ledger.dir.path(), "scrapped"));
    assert!(has(&page, "SCRAPPED by"), "{page}");
    assert!(has(&page, "status scrapped"), "{page}");
}
