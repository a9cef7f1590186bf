//! The simulation targets run as binaries: exit codes, failures found and replayed to the
//! same trace hash, JSON results, shards that split the seeds, the determinism check, and the
//! messages for bad input.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn target(name: &str) -> Command {
    let path = match name {
        "kv" => env!("CARGO_BIN_EXE_kv"),
        "bugs" => env!("CARGO_BIN_EXE_bugs"),
        "classes" => env!("CARGO_BIN_EXE_classes"),
        _ => env!("CARGO_BIN_EXE_selftest"),
    };
    let mut command = Command::new(path);
    // Without `cargo run`'s CARGO_PKG_NAME too: the targets name their package themselves
    // (`explore_target!`), as a binary started from a nightly job's script must.
    command.env_remove("SEEDSIM_SEED").env_remove("SEEDSIM_LOG").env_remove("CARGO_PKG_NAME");
    command
}

fn run(name: &str, args: &[&str]) -> Output {
    target(name).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("seedsim-targets-{}-{name}", std::process::id()))
}

fn json_lines(path: &PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn the_fixed_kv_passes_its_seeds_and_exits_zero() {
    // Swarm faults jump and skew clocks: 1.7% of these seeds failed while the online check
    // judged real-time order by the clients' own clocks.
    let output = run("kv", &["explore", "--seeds", "1000", "--jobs", "2", "--quiet"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("kv: 1000 seeds of kv (default faults)") && stdout.contains("0 failed"), "{stdout}");
}

#[test]
fn a_failure_is_found_grouped_written_as_json_and_replays_to_the_same_trace_hash() {
    let json = temp("kv-buggy.jsonl");
    let output = run(
        "kv",
        &[
            "explore",
            "--scenario",
            "kv-buggy",
            "--seeds",
            "300",
            "--jobs",
            "2",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "a failure exits 1: {stdout}");
    assert!(stdout.contains("run(s) failed with: client error: not linearizable"), "{stdout}");
    let lines = json_lines(&json);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["seeds"], 300);
    let failures: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "failure").collect();
    assert_eq!(summary["failed"], failures.len());
    assert!(summary["distinct"].as_u64().unwrap() <= failures.len() as u64);
    let first = failures[0];
    for field in ["seed", "scenario", "cause", "signature", "faults", "trace_hash", "replay", "build"] {
        assert!(!first[field].is_null(), "the failure line has {field}: {first}");
    }
    let replay = first["replay"].as_str().unwrap();
    // In the profile the target was built in, as this test was.
    let release = if cfg!(debug_assertions) { "" } else { " --release" };
    let command =
        format!("cargo run{release} -p seedsim-targets --bin kv -- replay --scenario kv-buggy --faults default");
    assert!(replay.starts_with("SEEDSIM_SEED=0x") && replay.ends_with(&command), "{first}");

    let seed = first["seed"].as_str().unwrap();
    let trace = temp("trace.txt");
    let replayed = run("kv", &["replay", "--scenario", "kv-buggy", "--seed", seed, "--trace", trace.to_str().unwrap()]);
    let report = text(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "{report}");
    let hash = first["trace_hash"].as_str().unwrap();
    assert!(report.contains(&format!("trace hash: {hash}")), "the replay gives the same trace hash {hash}:\n{report}");
    let events = std::fs::read_to_string(&trace).unwrap();
    assert!(events.lines().count() > 100 && events.contains("send datagram"), "the trace file has every event");
    let _ = (std::fs::remove_file(json), std::fs::remove_file(trace));
}

fn failing_seeds(shard: Option<&str>) -> BTreeSet<String> {
    let json = temp(&format!("shard-{}.jsonl", shard.unwrap_or("all").replace('/', "-")));
    let mut args = vec![
        "explore",
        "--scenario",
        "always-fails",
        "--seeds",
        "30",
        "--jobs",
        "2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ];
    if let Some(shard) = shard {
        args.extend(["--shard", shard]);
    }
    assert_eq!(run("selftest", &args).status.code(), Some(1));
    let seeds = json_lines(&json)
        .iter()
        .filter(|l| l["type"] == "failure")
        .map(|l| l["seed"].as_str().unwrap().to_owned())
        .collect();
    let _ = std::fs::remove_file(json);
    seeds
}

#[test]
fn shards_run_disjoint_seeds_that_cover_the_range() {
    let all = failing_seeds(None);
    assert_eq!(all.len(), 30);
    let shards: Vec<BTreeSet<String>> = (0..3).map(|k| failing_seeds(Some(&format!("{k}/3")))).collect();
    for (i, a) in shards.iter().enumerate() {
        assert_eq!(a.len(), 10);
        for b in &shards[i + 1..] {
            assert!(a.is_disjoint(b), "shards overlap");
        }
    }
    let union: BTreeSet<String> = shards.into_iter().flatten().collect();
    assert_eq!(union, all, "the shards together are the unsharded run");
}

#[test]
fn check_determinism_names_the_first_differing_event() {
    let output = run("selftest", &["check-determinism", "--scenario", "nondeterministic", "--seeds", "5"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("is not deterministic") && stdout.contains("first difference at event"), "{stdout}");
    assert!(stdout.contains("run 1:") && stdout.contains("run 2:"), "{stdout}");
    let output = run("kv", &["check-determinism", "--seeds", "5"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn tokio_watch_with_several_waiters_passes_check_determinism() {
    let output = run("selftest", &["check-determinism", "--scenario", "watch", "--seeds", "50"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
}

#[test]
fn one_seed_runs_the_same_twice_and_can_be_logged() {
    let once = || text(&run("kv", &["run", "--seed", "0x2a"]).stdout);
    let first = once();
    assert!(first.contains("kv: seed 0x000000000000002a passed") && first.contains("trace hash 0x"), "{first}");
    assert_eq!(first, once());
    let logged = target("kv").args(["run", "--seed", "7"]).env("SEEDSIM_LOG", "seedsim=debug").output().unwrap();
    let stdout = text(&logged.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("DEBUG seedsim:")).collect();
    assert!(lines.len() > 100, "a log of every event: {} lines", lines.len());
    for line in &lines {
        let time = line.split_whitespace().next().unwrap();
        let (whole, fraction) = time.strip_suffix('s').and_then(|t| t.split_once('.')).expect("seconds.nanoseconds");
        assert!(whole.parse::<u64>().is_ok() && fraction.len() == 9, "{line}");
    }
    assert!(lines.iter().any(|l| l.contains(" replica1 ") && l.contains("send datagram")), "stamped with the node");
    assert_eq!(lines.iter().filter(|l| l.ends_with("start replica1")).count(), 1, "logged once");
}

#[test]
fn bad_input_exits_two_with_a_message_naming_the_flag() {
    let cases: [(&str, &[&str], &str); 6] = [
        ("kv", &["run", "--seed", "0xnope"], "--seed: invalid seed \"0xnope\""),
        ("kv", &["run"], "a seed is needed"),
        ("kv", &["explore", "--shard", "3/2"], "--shard \"3/2\": expected K/N"),
        ("kv", &["explore", "--duration", "soon"], "--duration \"soon\""),
        ("kv", &["explore", "--scenario", "nope"], "unknown; this target has kv, kv-buggy"),
        ("kv", &["explore", "--jobs", "0"], "--jobs"),
    ];
    for (name, args, expected) in cases {
        let output = run(name, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let output = run("kv", &["explore", "--json", "/nonexistent-dir/out.jsonl", "--seeds", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--json /nonexistent-dir/out.jsonl"));
    // The seed from the environment: an empty one is no seed, and a bad one is blamed on the
    // variable, not on a flag nobody gave.
    let output = target("kv").args(["run"]).env("SEEDSIM_SEED", "").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("a seed is needed"), "{}", text(&output.stderr));
    let output = target("kv").args(["run"]).env("SEEDSIM_SEED", "0xnope").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("SEEDSIM_SEED: invalid seed"), "{}", text(&output.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let not_utf8 = std::ffi::OsStr::from_bytes(&[0x30, 0x78, 0xff]);
        let output = target("kv").args(["run"]).env("SEEDSIM_SEED", not_utf8).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert!(text(&output.stderr).contains("not UTF-8"), "{}", text(&output.stderr));
    }
    // A corpus "folder" that is a file is said before the sweep, not after it.
    let file = temp("corpus-is-a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let output =
        run("kv", &["explore", "--scenario", "kv-buggy", "--seeds", "100000", "--corpus", file.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a file") && !text(&output.stdout).contains("seeds of"), "{stderr}");
    std::fs::remove_file(&file).unwrap();
    // A corpus entry whose plan names a node the scenario does not have says which entry.
    let dir = temp("corpus-unknown-node");
    std::fs::create_dir_all(&dir).unwrap();
    let entry = dir.join("old.txt");
    let text_of_entry =
        "# seedsim corpus entry\nscenario: kv-buggy\nseed: 0x2a\ncause: x\nplan:\n1s crash replica9\n10s recover\n";
    std::fs::write(&entry, text_of_entry).unwrap();
    let output = run("kv", &["explore", "--scenario", "kv-buggy", "--seeds", "1", "--corpus", dir.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("replica9") && stderr.contains(entry.to_str().unwrap()), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_bug_example_is_a_scenario_of_the_bugs_target() {
    let output = run("bugs", &["explore", "--scenario", "lock-buggy", "--seeds", "50", "--faults", "chaos", "--quiet"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let output = run("bugs", &["explore", "--scenario", "walkv", "--seeds", "50", "--faults", "chaos", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn every_bug_class_protocol_is_a_scenario_of_the_classes_target() {
    // Every protocol file of the benchmark, so a new one cannot be left out of the target.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/classes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 10, "{names:?}");
    for name in &names {
        for scenario in [name.to_owned(), format!("{name}-buggy")] {
            let output = run("classes", &["run", "--scenario", &scenario, "--seed", "1", "--faults", "calm"]);
            assert_eq!(output.status.code(), Some(0), "{scenario}: {}", text(&output.stdout));
        }
    }
    let output =
        run("classes", &["explore", "--scenario", "ledger-buggy", "--seeds", "20", "--faults", "chaos", "--quiet"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
}

#[test]
fn shrinking_keeps_the_failure_with_fewer_faults_and_the_plan_replays() {
    let json = temp("lock.jsonl");
    let output = run(
        "bugs",
        &[
            "explore",
            "--scenario",
            "lock-buggy",
            "--faults",
            "chaos",
            "--seeds",
            "40",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&json);
    let found = lines.iter().find(|l| l["type"] == "failure").expect("lock-buggy fails within 40 seeds");
    let seed = found["seed"].as_str().unwrap();
    let before = found["faults"].as_str().unwrap().lines().count();
    let plan = temp("shrunk-plan.txt");
    let output = run(
        "bugs",
        &["shrink", "--scenario", "lock-buggy", "--faults", "chaos", "--seed", seed, "--out", plan.to_str().unwrap()],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("shrank from {before} to")), "{stdout}");
    let after = std::fs::read_to_string(&plan).unwrap().lines().count();
    assert!(after < before, "{after} faults left of {before}");
    assert!(stdout.contains(found["signature"].as_str().unwrap()), "the same cause: {stdout}");
    let replayed =
        run("bugs", &["replay", "--scenario", "lock-buggy", "--seed", seed, "--plan", plan.to_str().unwrap()]);
    let report = text(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "the shrunk plan still fails: {report}");
    assert!(report.contains("the store accepts writes in lock order"), "{report}");
    let _ = (std::fs::remove_file(json), std::fs::remove_file(plan));
}

#[test]
fn merge_adds_up_shards_and_rejects_a_corrupt_results_file() {
    let shards: Vec<PathBuf> = (0..2).map(|k| temp(&format!("merge-{k}.jsonl"))).collect();
    for (k, path) in shards.iter().enumerate() {
        let shard = format!("{k}/2");
        let args = [
            "explore",
            "--scenario",
            "always-fails",
            "--seeds",
            "20",
            "--shard",
            &shard,
            "--quiet",
            "--json",
            path.to_str().unwrap(),
        ];
        assert_eq!(run("selftest", &args).status.code(), Some(1));
    }
    let output = run("selftest", &["merge", shards[0].to_str().unwrap(), shards[1].to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 file(s), 20 seeds: 0 passed, 20 failed, 1 distinct failure(s)"), "{stdout}");
    assert!(stdout.contains("20 run(s) failed with: client error: this scenario always fails"), "{stdout}");
    let corrupt = temp("corrupt.jsonl");
    std::fs::write(&corrupt, "{\"type\":\"summary\",\"seeds\":1,\"passed\":1,\"failed\":0}\nnot json\n").unwrap();
    let output = run("selftest", &["merge", corrupt.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("corrupt.jsonl line 2") && stderr.contains("expected a JSON line written by `explore --json`"),
        "{stderr}"
    );
    let cut = temp("cut.jsonl");
    std::fs::write(&cut, "").unwrap();
    assert!(text(&run("selftest", &["merge", cut.to_str().unwrap()]).stderr).contains("0 summary lines"));
    // Counts that would wrap the total are a corrupt file, not a small number of seeds.
    let huge = temp("huge.jsonl");
    let summary = format!("{{\"type\":\"summary\",\"seeds\":{},\"passed\":0,\"failed\":0}}\n", u64::MAX - 1);
    std::fs::write(&huge, summary.repeat(2)).unwrap();
    let output = run("selftest", &["merge", huge.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("huge.jsonl line 2: `seeds` overflows the total"),
        "{}",
        text(&output.stderr)
    );
    for path in shards.into_iter().chain([corrupt, cut, huge]) {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn the_corpus_keeps_new_failures_replays_them_first_and_checks_them_under_cargo_test() {
    let dir = temp("corpus");
    let _ = std::fs::remove_dir_all(&dir);
    let explore = |scenario: &str, seeds: &str| {
        run(
            "bugs",
            &[
                "explore",
                "--scenario",
                scenario,
                "--faults",
                "chaos",
                "--seeds",
                seeds,
                "--quiet",
                "--corpus",
                dir.to_str().unwrap(),
            ],
        )
    };
    let first = explore("lock-buggy", "30");
    assert_eq!(first.status.code(), Some(1));
    assert!(text(&first.stdout).contains("saved to the corpus"), "{}", text(&first.stdout));
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "one distinct failure, one entry");
    let entry = seedsim::explore::Entry::read(&entries[0]).unwrap();
    assert_eq!(entry.scenario, "lock-buggy");
    assert!(!entry.plan.is_empty());

    // Replayed first on the next run, which fails on it even with no new seed failing.
    let again = explore("lock-buggy", "1");
    let stdout = text(&again.stdout);
    assert!(stdout.contains("fails again"), "{stdout}");
    assert_eq!(again.status.code(), Some(1));
    assert!(!stdout.contains("saved to the corpus"), "a known failure is not saved twice: {stdout}");
    let replay_line = stdout.lines().find(|l| l.contains("replay:")).unwrap();
    assert!(replay_line.contains("--plan") && replay_line.contains(entries[0].to_str().unwrap()), "{replay_line}");

    // The entry replays with its plan through --plan.
    let seed = entry.seed.to_string();
    let replayed =
        run("bugs", &["replay", "--scenario", "lock-buggy", "--seed", &seed, "--plan", entries[0].to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(1));

    // A corrupt entry is an error naming the file.
    std::fs::write(dir.join("bad.txt"), "scenario: lock-buggy\nseed: nope\n").unwrap();
    let corrupt = explore("lock", "1");
    assert_eq!(corrupt.status.code(), Some(2));
    assert!(text(&corrupt.stderr).contains("invalid corpus entry"), "{}", text(&corrupt.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn isolate_runs_every_seed_in_its_own_process() {
    let shared = run("selftest", &["explore", "--scenario", "leaky", "--seeds", "8", "--jobs", "1", "--quiet"]);
    let stdout = text(&shared.stdout);
    assert_eq!(shared.status.code(), Some(1), "in one process, leftover state fakes failures: {stdout}");
    // Every seed: the default faults' probe runs set the scenario up before the first seed.
    assert!(stdout.contains("8 failed"), "{stdout}");
    let isolated =
        run("selftest", &["explore", "--scenario", "leaky", "--seeds", "8", "--jobs", "2", "--isolate", "--quiet"]);
    let stdout = text(&isolated.stdout);
    assert_eq!(isolated.status.code(), Some(0), "isolated, no seed sees another's state: {stdout}");
    let json = temp("isolated.jsonl");
    let failing = run(
        "selftest",
        &[
            "explore",
            "--scenario",
            "always-fails",
            "--seeds",
            "4",
            "--isolate",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(failing.status.code(), Some(1));
    let lines = json_lines(&json);
    assert_eq!(
        lines.iter().filter(|l| l["type"] == "failure").count(),
        4,
        "children's failures are reported as in-process ones"
    );
    assert!(text(&failing.stdout).contains("client returned an error: this scenario always fails"));
    let _ = std::fs::remove_file(json);
}

#[test]
fn replay_writes_the_runs_timeline() {
    let page = temp("timeline.html");
    let output = run(
        "kv",
        &[
            "replay",
            "--scenario",
            "kv-buggy",
            "--seed",
            "0x9ed45c31c5332d07",
            "--faults",
            "calm",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", text(&output.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"), "a page");
    assert!(html.contains("replica1") && html.contains("kv kv-buggy, seed 0x9ed45c31c5332d07"), "lanes and title");
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(external), "needs no network: {external}");
    }
    let bad = run("kv", &["replay", "--seed", "1", "--html", "/nonexistent-dir/t.html"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_file(page);
}

#[test]
fn the_tiny_scenario_the_speed_figure_uses_passes_under_faults_and_is_deterministic() {
    for faults in ["swarm", "chaos"] {
        let output =
            run("selftest", &["explore", "--scenario", "tiny", "--faults", faults, "--seeds", "2000", "--quiet"]);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{faults}: {stdout}{}", text(&output.stderr));
        assert!(stdout.contains("2000 seeds of tiny") && stdout.contains("0 failed"), "{stdout}");
    }
    let output = run("selftest", &["check-determinism", "--scenario", "tiny", "--seeds", "200"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
}

/// The text between `after` and the next occurrence of `until` in `text`.
fn between<'a>(text: &'a str, after: &str, until: &str) -> &'a str {
    let start = text.find(after).unwrap_or_else(|| panic!("no {after:?} in {text}")) + after.len();
    let rest = &text[start..];
    &rest[..rest.find(until).unwrap_or(rest.len())]
}

#[test]
fn shrinking_cuts_a_sized_scenario_to_fewer_operations_and_the_smaller_run_replays() {
    let json = temp("kv-sizes.jsonl");
    // Swarm over chaos: its failures come early in the run, so most can lose operations.
    let args = [
        "explore",
        "--scenario",
        "kv-buggy",
        "--faults",
        "swarm",
        "--seeds",
        "200",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ];
    assert_eq!(run("kv", &args).status.code(), Some(1));
    let lines = json_lines(&json);
    let plan = temp("kv-sizes-plan.txt");
    // Not every failure can lose operations (when the stale read is a client's last one, or
    // the plan names every client); among the first failures some can.
    let mut shrank = 0;
    for found in lines.iter().filter(|l| l["type"] == "failure").take(6) {
        let seed = found["seed"].as_str().unwrap();
        let output = run(
            "kv",
            &["shrink", "--scenario", "kv-buggy", "--faults", "swarm", "--seed", seed, "--out", plan.to_str().unwrap()],
        );
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains(found["signature"].as_str().unwrap()), "the same cause: {stdout}");
        assert!(stdout.contains("sizes clients=3,ops=8 (total 11) to "), "{stdout}");
        let total = between(&stdout, "ops=8 (total 11) to ", ")").rsplit("total ").next().unwrap();
        if total.parse::<u64>().unwrap() == 11 {
            assert!(!stdout.contains("--size "), "default sizes need no --size: {stdout}");
            continue;
        }
        shrank += 1;
        let sizes = between(&stdout, "--size ", " ");
        assert!(sizes.starts_with("clients="), "the replay line names the smaller sizes: {stdout}");
        let shrunk_hash = between(&stdout, "trace hash: ", "\n");
        let args =
            ["replay", "--scenario", "kv-buggy", "--size", sizes, "--plan", plan.to_str().unwrap(), "--seed", seed];
        let replayed = run("kv", &args);
        let report = text(&replayed.stdout);
        assert_eq!(replayed.status.code(), Some(1), "the smaller run still fails: {report}");
        assert_eq!(between(&report, "trace hash: ", "\n"), shrunk_hash, "{report}");
    }
    assert!(shrank > 0, "no failure among the first six lost a client or an operation");
    let _ = (std::fs::remove_file(json), std::fs::remove_file(plan));
}

#[test]
fn a_bad_size_names_the_scenario_sizes_and_exits_two() {
    for size in ["ops=0", "replicas=2", "ops", "ops=many", "clients=3,clients=4", ",,,", "=3", ""] {
        let output = run("kv", &["run", "--seed", "1", "--size", size]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{size}: {stderr}");
        assert!(stderr.contains("clients (at least 1), ops (at least 1)"), "{size}: {stderr}");
    }
    let output = run("selftest", &["run", "--seed", "1", "--scenario", "passes", "--size", "ops=3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("Scenario::sized"), "{}", text(&output.stderr));
}

#[test]
fn a_reader_that_goes_away_ends_the_target_quietly_instead_of_a_panic() {
    // `explore … | head`: the report is written only at the end of the sweep, long after the
    // reader below has closed its end of the pipe.
    let mut child = target("kv")
        .args(["explore", "--scenario", "kv-buggy", "--seeds", "300", "--jobs", "1", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(2), "{stderr}");
}

/// The arguments of a printed replay line after `--`, the way a shell would split them.
fn replay_args(line: &str) -> Vec<String> {
    let (_, args) = line.split_once(" -- ").expect("a replay line runs the target with arguments");
    args.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn guided_exploration_finds_the_bug_and_a_failing_mutant_replays_from_its_plan_file() {
    // In a folder of its own: with no --corpus, the plans go to target/seedsim-plans there.
    let dir = temp("guided");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("guided.jsonl");
    let output = target("bugs")
        .current_dir(&dir)
        .args(["explore", "--scenario", "lock-buggy", "--guided", "--faults", "swarm", "--seeds", "300", "--jobs", "1"])
        .arg("--quiet")
        .args(["--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("300 seeds of lock-buggy (swarm faults, guided)"), "{stdout}");
    assert!(stdout.contains("run(s) failed with: invariant \"the store accepts writes in lock order\""), "{stdout}");
    // The report says what the guide covered, and how coverage grew.
    let guided = stdout.lines().find(|l| l.starts_with("guided: ")).expect("a guided line");
    assert!(guided.contains(" features in 300 runs (") && guided.contains("features by runs: 1: "), "{guided}");
    let lines = json_lines(&json);
    let summary = &lines.last().unwrap()["guided"];
    assert!(summary["features"].as_u64().unwrap() > 100, "{summary}");
    assert!(summary["corpus"].as_u64().unwrap() > 0 && summary["mutants"].as_u64().unwrap() > 0, "{summary}");
    let growth: Vec<(u64, u64)> = summary["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| (point[0].as_u64().unwrap(), point[1].as_u64().unwrap()))
        .collect();
    assert_eq!(growth.first().map(|p| p.0), Some(1));
    assert_eq!(growth.last(), Some(&(300, summary["features"].as_u64().unwrap())));
    assert!(growth.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{growth:?}");
    // A failure of a mutant names its plan file; the line replays it to the same trace hash.
    let mutant = lines
        .iter()
        .find(|l| l["type"] == "failure" && l["replay"].as_str().unwrap().contains("--plan"))
        .expect("a mutant fails within 300 runs");
    let replay = mutant["replay"].as_str().unwrap();
    let seed = mutant["seed"].as_str().unwrap();
    assert!(
        replay.contains(&format!("replay --scenario lock-buggy --seed {seed} --plan target/seedsim-plans/")),
        "{replay}"
    );
    let replayed = target("bugs").current_dir(&dir).args(replay_args(replay)).output().unwrap();
    let report = text(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("trace hash: {}", mutant["trace_hash"].as_str().unwrap())), "{report}");
    // And it shrinks from its plan file.
    let mut shrink = replay_args(replay);
    shrink[0] = "shrink".to_owned();
    let shrunk = target("bugs").current_dir(&dir).args(&shrink).output().unwrap();
    let shrunk_out = text(&shrunk.stdout);
    assert_eq!(shrunk.status.code(), Some(1), "{shrunk_out}");
    assert!(shrunk_out.contains(&format!("seed {seed} shrank from")), "{shrunk_out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn guided_exploration_keeps_failing_plans_in_the_corpus_folder_and_refuses_isolate() {
    let corpus = temp("guided-corpus");
    let args = ["explore", "--scenario", "lock-buggy", "--guided", "--seeds", "200", "--jobs", "2", "--quiet"];
    let output = run("bugs", &[&args[..], &["--corpus", corpus.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let plans: Vec<PathBuf> = std::fs::read_dir(corpus.join("plans")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!plans.is_empty());
    let plan = std::fs::read_to_string(&plans[0]).unwrap();
    assert!(plan.starts_with("# seedsim fault plan of a failing mutant") && plan.contains("recover"), "{plan}");
    let output = run("bugs", &[&args[..], &["--isolate"]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--guided and --isolate"), "{}", text(&output.stderr));
    let _ = std::fs::remove_dir_all(corpus);
}

#[test]
fn a_scenario_names_its_own_faults_and_shrink_is_honest_about_the_ones_its_setup_installs() {
    // `--faults spikes`, the scenario's own profile: run, named in the replay line and JSON.
    let json = temp("own-profile.jsonl");
    let output = run(
        "selftest",
        &[
            "explore",
            "--scenario",
            "always-fails",
            "--faults",
            "spikes",
            "--seeds",
            "3",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let lines = json_lines(&json);
    let failure = lines.iter().find(|l| l["type"] == "failure").unwrap();
    assert!(
        failure["replay"].as_str().unwrap().ends_with("replay --scenario always-fails --faults spikes"),
        "{failure}"
    );
    assert!(failure["faults"].as_str().unwrap().contains("latency-spike"), "the profile ran: {failure}");
    assert_eq!(lines.last().unwrap()["faults"], "spikes");
    let _ = std::fs::remove_file(&json);
    // A name neither seedsim's nor the scenario's lists what there is.
    let output = run("selftest", &["run", "--scenario", "always-fails", "--seed", "1", "--faults", "spiky"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown faults spiky: expected one of default, calm, chaos, swarm, spikes"), "{stderr}");
    // The setup's own faults are not counted as shrunk away.
    let output = run("selftest", &["shrink", "--scenario", "own-faults", "--seed", "1", "--faults", "calm"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("shrank from 0 to 0 fault(s)"), "{stdout}");
    assert!(stdout.contains("and 2 fault(s) the scenario's setup installs itself"), "{stdout}");
}

/// A `hangs` sweep of 16 seeds with a 200 ms watchdog: its JSON lines and output.
fn hang_sweep(isolate: bool) -> (Output, Vec<serde_json::Value>) {
    let json = temp(if isolate { "hangs-isolated.jsonl" } else { "hangs.jsonl" });
    let mut args = vec!["explore", "--scenario", "hangs", "--faults", "calm", "--seeds", "16", "--jobs", "2"];
    args.extend(["--watchdog", "0.2", "--quiet", "--json", json.to_str().unwrap()]);
    if isolate {
        args.push("--isolate");
    }
    let output = run("selftest", &args);
    let lines = json_lines(&json);
    (output, lines)
}

#[test]
fn explore_records_a_hang_as_a_failure_and_finishes_the_other_seeds_with_and_without_isolate() {
    for isolate in [false, true] {
        let (output, lines) = hang_sweep(isolate);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "a hang is a failure (isolate: {isolate}): {stdout}\n{stderr}");
        let summary = lines.last().unwrap();
        assert_eq!(summary["seeds"], 16, "every seed is counted (isolate: {isolate}): {summary}");
        let failures: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "failure").collect();
        assert!(!failures.is_empty() && failures.len() < 16, "some seeds hang, not all: {summary}");
        assert_eq!(summary["failed"], failures.len());
        assert_eq!(summary["passed"], 16 - failures.len());
        for failure in &failures {
            let signature = failure["signature"].as_str().unwrap();
            assert!(signature.starts_with("hang in a task spawned at sim/src/bin/selftest.rs:"), "{failure}");
            assert!(failure["cause"].as_str().unwrap().contains("watchdog limit 200ms"), "{failure}");
            assert_eq!(failure["node"], "c");
            let replay = failure["replay"].as_str().unwrap();
            let seed = failure["seed"].as_str().unwrap();
            assert!(replay.starts_with(&format!("SEEDSIM_SEED={seed} ")), "{replay}");
            assert!(replay.contains("replay --scenario hangs --faults calm"), "{replay}");
        }
        assert!(stdout.contains("run(s) failed with: hang in a task spawned at"), "{stdout}");
        assert!(stdout.contains("  where:      node c, task"), "the report names node and task: {stdout}");
        if !isolate {
            assert!(stderr.contains("warning: seed") && stderr.contains("--isolate"), "{stderr}");
        }
    }
}

#[test]
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // times the sweep from outside
fn a_hang_ends_a_timed_sweep_on_time_and_a_hanging_run_reports_its_replay_line() {
    let started = std::time::Instant::now();
    let args = ["explore", "--scenario", "always-hangs", "--faults", "calm", "--duration", "1s", "--jobs", "1"];
    let output = run("selftest", &[&args[..], &["--watchdog", "0.2", "--quiet"]].concat());
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("run(s) failed with: hang in a task spawned at sim/src/bin/selftest.rs:"), "{stdout}");
    // Not a speed target: a sweep of 1 s with hangs of 0.2 s must end, not wait for its spinners.
    assert!(started.elapsed() < std::time::Duration::from_secs(50), "took {:?}", started.elapsed());

    let output = run(
        "selftest",
        &["run", "--scenario", "always-hangs", "--faults", "calm", "--seed", "1", "--watchdog", "200ms"],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "a hang found is exit code 1: {stderr}");
    assert!(stderr.contains("where:      node spinner, task"), "{stderr}");
    assert!(stderr.contains("hang: a poll of the task spawned at sim/src/bin/selftest.rs:"), "{stderr}");
    assert!(stderr.contains("replay:     SEEDSIM_SEED=0x0000000000000001 cargo run"), "{stderr}");
    assert!(stderr.contains("replay --scenario always-hangs --faults calm"), "{stderr}");

    let output = run("selftest", &["run", "--scenario", "passes", "--seed", "1", "--watchdog", "soon"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--watchdog \"soon\": expected"), "{}", text(&output.stderr));
}

#[test]
fn a_worker_that_panics_outside_a_run_ends_the_sweep_with_an_error() {
    // Workers are plain threads (one stuck in a hung poll is abandoned, never joined): one
    // that dies must still be counted, or the sweep would wait for it forever.
    let output =
        run("selftest", &["explore", "--scenario", "setup-panics", "--faults", "calm", "--seeds", "4", "--quiet"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a worker thread panicked"), "{stderr}");
}
