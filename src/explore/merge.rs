//! `merge`: one report from the JSON results of many shards (or nights).
//!
//! Summaries add up; failures group by signature across files, each group with its count and
//! its smallest example (fewest steps). A line that is not a result is an error naming the
//! file and the line.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub(crate) struct Merged {
    pub(crate) seeds: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    /// By signature: count, and the smallest failure's JSON line.
    pub(crate) groups: BTreeMap<String, (u64, Value)>,
    pub(crate) files: usize,
}

pub(crate) fn merge(paths: &[&Path]) -> Result<Merged, String> {
    let mut merged = Merged { seeds: 0, passed: 0, failed: 0, groups: BTreeMap::new(), files: 0 };
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let mut summaries = 0;
        for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let bad = |what: &str| {
                format!(
                    "{} line {}: {what}: expected a JSON line written by `explore --json`",
                    path.display(),
                    number + 1
                )
            };
            let value: Value = serde_json::from_str(line).map_err(|err| bad(&err.to_string()))?;
            let count = |field: &str| value[field].as_u64().ok_or_else(|| bad(&format!("no number `{field}`")));
            match value["type"].as_str() {
                Some("summary") => {
                    // Checked: counts near u64::MAX are a corrupt file, not a wrapped total.
                    let add = |total: u64, field: &str| {
                        total.checked_add(count(field)?).ok_or_else(|| bad(&format!("`{field}` overflows the total")))
                    };
                    merged.seeds = add(merged.seeds, "seeds")?;
                    merged.passed = add(merged.passed, "passed")?;
                    merged.failed = add(merged.failed, "failed")?;
                    summaries += 1;
                }
                Some("failure") => {
                    let signature = value["signature"].as_str().ok_or_else(|| bad("no `signature`"))?.to_owned();
                    let step = count("step")?;
                    let group = merged.groups.entry(signature).or_insert_with(|| (0, value.clone()));
                    group.0 += 1;
                    if step < group.1["step"].as_u64().unwrap_or(u64::MAX) {
                        group.1 = value;
                    }
                }
                _ => return Err(bad("no `type` of summary or failure")),
            }
        }
        if summaries != 1 {
            return Err(format!(
                "{}: {summaries} summary lines: expected exactly one (was the run cut short?)",
                path.display()
            ));
        }
        merged.files += 1;
    }
    Ok(merged)
}
