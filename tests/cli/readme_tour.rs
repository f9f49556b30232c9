//! The README's tour, run as written: every command of the `sh` blocks under "A short tour",
//! in order, in an empty folder, with the built binary as `traceledger` (issue 16). A line
//! that stops working fails here, so the README cannot rot. Also: the event vocabulary the
//! README points to is in the repository and names every schema.

use std::path::Path;

const README: &str = include_str!("../../README.md");

/// The commands of the tour: its `sh` blocks, `\` continuations joined, comment lines and
/// comments at the end of a line left to the shell.
fn tour_commands() -> Vec<String> {
    let start = README
        .find("## A short tour")
        .expect("README has a section \"A short tour\"");
    let section = &README[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let section = &section[..end];
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block || line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    assert!(
        pending.is_empty(),
        "a tour line ends with \\ and nothing follows"
    );
    commands
}

#[test]
fn the_readme_tour_runs_as_written_in_an_empty_folder() {
    let commands = tour_commands();
    assert!(
        commands.len() >= 30,
        "the tour has {} commands",
        commands.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_traceledger"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (index, command) in commands.iter().enumerate() {
        let output = std::process::Command::new("bash")
            .args(["-c", &format!("set -eo pipefail\n{command}")])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("TRACELEDGER_LEDGER")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "README tour command {} failed ({}):\n  {command}\nstdout:\n{}\nstderr:\n{}",
            index + 1,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // What the tour says happened, happened: the signed shift had no bad line, and the label
    // audit has one parsed row per printed label.
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("bad.ndjson"), "");
    let labels = read("labels.txt");
    let rows = read("labels.csv");
    assert!(labels.lines().count() > 100);
    assert_eq!(rows.lines().count(), labels.lines().count() + 1);
    assert!(rows.lines().skip(1).all(|row| row.contains(",true,")));
}

#[test]
fn every_tour_line_names_only_files_made_before_it() {
    // A cheap, fast companion of the run above: each FILE.ndjson/.key/.txt the tour reads is
    // written (`>`, `--out`, `--bundle`) by an earlier line.
    let mut made: Vec<String> = vec!["traceledger.db.key.pub".to_owned()];
    for command in tour_commands() {
        let words: Vec<&str> = command.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let is_file = [".ndjson", ".key", ".txt", ".json", ".pub"]
                .iter()
                .any(|ext| word.ends_with(ext));
            if !is_file {
                continue;
            }
            let before = if i > 0 { words[i - 1] } else { "" };
            let written = matches!(before, ">" | "--out" | "--bundle" | "--rejects");
            let derived_pub = word
                .strip_suffix(".pub")
                .is_some_and(|key| made.iter().any(|m| m == key));
            if written {
                made.push((*word).to_owned());
            } else {
                assert!(
                    made.iter().any(|m| m == word) || derived_pub,
                    "the tour reads {word} before any line makes it:\n  {command}"
                );
            }
        }
    }
}

#[test]
fn the_event_vocabulary_is_in_the_repository_and_names_every_schema() {
    assert!(
        !README.contains("../shared"),
        "README points outside the repository"
    );
    assert!(README.contains("docs/events.md"));
    let events =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/events.md"))
            .unwrap();
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut types = Vec::new();
    for entry in std::fs::read_dir(&schemas).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(event_type) = name.strip_suffix(".schema.json")
            && !["envelope", "common"].contains(&event_type)
        {
            types.push(event_type.to_owned());
        }
    }
    assert!(types.len() >= 30, "{} schemas", types.len());
    for event_type in &types {
        assert!(
            events.contains(&format!("| `{event_type}` |")),
            "docs/events.md has no row for {event_type}"
        );
    }
    // And no row for a type without a schema.
    for line in events.lines() {
        if let Some(rest) = line.strip_prefix("| `")
            && let Some((name, _)) = rest.split_once("` |")
            && name.contains('.')
        {
            assert!(
                types.iter().any(|t| t == name),
                "docs/events.md describes {name}, which has no schema"
            );
        }
    }
}
