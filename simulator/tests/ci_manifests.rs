//! The scale-out manifests agree with themselves and with `vopr`: the GitHub Actions workflow
//! (`.github/workflows/vopr.yml`), the Kubernetes Indexed Job and merge Job (`deploy/k8s/`) and
//! the image (`deploy/Dockerfile`). A shard count changed in one place but not the other would
//! silently skip or double-run seeds; these tests catch that.

use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml::Value;

const WORKFLOW: &str = ".github/workflows/vopr.yml";
const INDEXED_JOB: &str = "deploy/k8s/vopr-indexed-job.yaml";
const MERGE_JOB: &str = "deploy/k8s/vopr-merge-job.yaml";
const DOCKERFILE: &str = "deploy/Dockerfile";

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every non-empty YAML document in the file (Kubernetes manifests may hold several).
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|e| panic!("{relative}: bad YAML: {e}"))
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// `value[k0][k1]...`, panicking with the path when a key is missing.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |value, key| {
        value
            .get(*key)
            .unwrap_or_else(|| panic!("missing key {key:?} (path {path:?})"))
    })
}

fn string<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

fn integer(value: &Value, path: &[&str]) -> u64 {
    at(value, path)
        .as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not an unsigned integer"))
}

fn sequence<'a>(value: &'a Value, path: &[&str]) -> &'a Vec<Value> {
    at(value, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("{path:?} is not a sequence"))
}

/// The shard count N of the `--shard INDEX/N` argument in `command`, checking that INDEX is
/// `index` (the matrix variable or the completion index).
fn shard_count(command: &str, index: &str) -> u64 {
    let mut words = command.split_whitespace();
    words
        .by_ref()
        .find(|word| *word == "--shard")
        .unwrap_or_else(|| panic!("no --shard in {command:?}"));
    let mut argument = String::new();
    // `${{ matrix.shard }}/8` is several words: take them up to the one holding the slash.
    for word in words {
        argument.push_str(word);
        if word.contains('/') {
            break;
        }
        argument.push(' ');
    }
    let argument = argument.trim_matches('"');
    let (left, count) = argument
        .split_once('/')
        .unwrap_or_else(|| panic!("--shard {argument:?} is not INDEX/N"));
    assert!(
        left.replace(' ', "").contains(&index.replace(' ', "")),
        "--shard {argument:?}: the index should be {index}"
    );
    count
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("--shard {argument:?}: N is not a number"))
}

fn step_runs(job: &Value) -> impl Iterator<Item = &Value> {
    sequence(job, &["steps"]).iter()
}

fn run_of(step: &Value) -> &str {
    step.get("run").and_then(Value::as_str).unwrap_or("")
}

fn uses_of(step: &Value) -> &str {
    step.get("uses").and_then(Value::as_str).unwrap_or("")
}

/// The step whose `run` mentions `needle`.
fn step_running<'a>(job: &'a Value, needle: &str) -> &'a Value {
    step_runs(job)
        .find(|step| run_of(step).contains(needle))
        .unwrap_or_else(|| panic!("no step runs {needle:?}"))
}

/// A failing `vopr` in `step` fails the job: either the step fails itself, or it records
/// `failed=1` in its outputs and a later step fails on that.
fn failure_fails_job(job: &Value, step: &Value) {
    let run = run_of(step);
    if !run.contains("GITHUB_OUTPUT") {
        return;
    }
    let id = string(step, &["id"]);
    let gate = format!("steps.{id}.outputs.failed");
    assert!(
        step_runs(job).any(|later| {
            later
                .get("if")
                .and_then(Value::as_str)
                .unwrap_or("")
                .contains(&gate)
                && run_of(later).contains("exit 1")
        }),
        "step {id:?} swallows vopr's exit code but no later step fails on {gate}"
    );
}

#[test]
fn workflow_shards_cover_every_seed_once_and_merge_judges_the_union() {
    let docs = documents(WORKFLOW);
    assert_eq!(docs.len(), 1);
    let workflow = &docs[0];

    let on = at(workflow, &["on"]);
    let branches = sequence(on, &["push", "branches"]);
    assert!(branches.iter().any(|b| b.as_str() == Some("main")));
    for trigger in ["pull_request", "schedule"] {
        assert!(
            on.get(trigger).is_some(),
            "workflow lacks the {trigger} trigger"
        );
    }
    assert!(
        !sequence(on, &["schedule"]).is_empty(),
        "no nightly cron in the schedule trigger"
    );
    at(on, &["workflow_dispatch", "inputs", "seeds"]);

    let fuzz = at(workflow, &["jobs", "fuzz"]);
    assert_eq!(
        at(fuzz, &["strategy", "fail-fast"]).as_bool(),
        Some(false),
        "one failing shard must not cancel the others"
    );
    let shards: Vec<u64> = sequence(fuzz, &["strategy", "matrix", "shard"])
        .iter()
        .map(|shard| shard.as_u64().expect("matrix shard is not an integer"))
        .collect();
    let n = shards.len() as u64;
    assert!(n > 1, "a single shard is not scaling out");
    assert_eq!(
        shards,
        (0..n).collect::<Vec<_>>(),
        "matrix shards must be 0..N-1"
    );

    assert!(step_runs(fuzz).any(|s| uses_of(s).starts_with("dtolnay/rust-toolchain@")));
    assert!(step_runs(fuzz).any(|s| uses_of(s) == "actions/cache@v4"));
    step_running(fuzz, "cargo build --release -p simulator --bin vopr");
    let fuzz_step = step_running(fuzz, "vopr fuzz");
    let run = run_of(fuzz_step);
    assert_eq!(
        shard_count(run, "${{ matrix.shard }}"),
        n,
        "--shard .../N must use the matrix length"
    );
    assert!(run.contains("--seeds \"$SEEDS\""), "{run}");
    assert!(run.contains("--time-budget"), "{run}");
    assert!(
        run.contains("--json report-${{ matrix.shard }}.json"),
        "{run}"
    );
    failure_fails_job(fuzz, fuzz_step);

    let upload = step_runs(fuzz)
        .find(|s| uses_of(s) == "actions/upload-artifact@v4")
        .expect("the fuzz job does not upload its report");
    assert_eq!(
        string(upload, &["with", "path"]),
        "report-${{ matrix.shard }}.json"
    );
    let upload_always = upload
        .get("if")
        .and_then(Value::as_str)
        .is_some_and(|cond| cond.contains("always()"));
    assert!(
        upload_always || run.contains("GITHUB_OUTPUT"),
        "a failing shard's report must still be uploaded"
    );
    let artifact = string(upload, &["with", "name"]);

    let merge = at(workflow, &["jobs", "merge"]);
    let needs = at(merge, &["needs"]);
    assert!(
        needs.as_str() == Some("fuzz")
            || needs
                .as_sequence()
                .is_some_and(|jobs| jobs.iter().any(|j| j.as_str() == Some("fuzz"))),
        "merge must need fuzz"
    );
    assert!(
        string(merge, &["if"]).contains("always()"),
        "merge must run even when a shard failed"
    );
    let download = step_runs(merge)
        .find(|s| uses_of(s) == "actions/download-artifact@v4")
        .expect("the merge job does not download the reports");
    assert_eq!(
        at(download, &["with", "merge-multiple"]).as_bool(),
        Some(true)
    );
    let pattern = string(download, &["with", "pattern"]);
    let prefix = pattern.strip_suffix('*').unwrap_or(pattern);
    assert!(
        artifact.starts_with(prefix),
        "download pattern {pattern:?} does not match the shard artifacts {artifact:?}"
    );
    let merge_step = step_running(merge, "vopr merge");
    let merge_run = run_of(merge_step);
    assert!(merge_run.contains("report-*.json"), "{merge_run}");
    assert!(merge_run.contains("--json merged.json"), "{merge_run}");
    assert!(
        merge_run.contains(&format!("-ne {n}")),
        "the merge job's report count check must expect {n} reports"
    );
    failure_fails_job(merge, merge_step);
    let merged_upload = step_runs(merge)
        .find(|s| uses_of(s) == "actions/upload-artifact@v4")
        .expect("the merge job does not upload merged.json");
    assert_eq!(string(merged_upload, &["with", "path"]), "merged.json");
    assert!(
        !string(merged_upload, &["with", "name"]).starts_with(prefix),
        "the merged artifact must not match the shard download pattern"
    );
}

/// The single container of a Job's pod template.
fn container(job: &Value) -> &Value {
    let containers = sequence(job, &["spec", "template", "spec", "containers"]);
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn command(container: &Value) -> String {
    sequence(container, &["command"])
        .iter()
        .map(|word| word.as_str().expect("command word is not a string"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn env(container: &Value, name: &str) -> String {
    sequence(container, &["env"])
        .iter()
        .find(|var| var.get("name").and_then(Value::as_str) == Some(name))
        .map(|var| string(var, &["value"]).to_owned())
        .unwrap_or_else(|| panic!("no env var {name}"))
}

/// The claim mounted at /reports.
fn reports_claim(job: &Value) -> String {
    let mount = sequence(container(job), &["volumeMounts"])
        .iter()
        .find(|m| m.get("mountPath").and_then(Value::as_str) == Some("/reports"))
        .expect("nothing mounted at /reports");
    let volume_name = string(mount, &["name"]);
    let volume = sequence(job, &["spec", "template", "spec", "volumes"])
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(volume_name))
        .expect("the /reports volume is not declared");
    string(volume, &["persistentVolumeClaim", "claimName"]).to_owned()
}

fn the_job(docs: &[Value]) -> &Value {
    let jobs: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("Job"))
        .collect();
    assert_eq!(jobs.len(), 1, "expected exactly one Job");
    assert_eq!(string(jobs[0], &["apiVersion"]), "batch/v1");
    jobs[0]
}

#[test]
fn indexed_job_maps_completion_index_to_shard_and_merge_job_reads_every_report() {
    let docs = documents(INDEXED_JOB);
    let job = the_job(&docs);
    assert_eq!(string(job, &["spec", "completionMode"]), "Indexed");
    let n = integer(job, &["spec", "completions"]);
    assert!(n > 1);
    assert_eq!(
        integer(job, &["spec", "parallelism"]),
        n,
        "parallelism must equal completions"
    );
    assert!(integer(job, &["spec", "backoffLimit"]) <= 3);
    assert_eq!(
        string(job, &["spec", "template", "spec", "restartPolicy"]),
        "Never"
    );

    let fuzz = container(job);
    let cmd = command(fuzz);
    assert!(cmd.contains("vopr fuzz"), "{cmd}");
    assert_eq!(
        shard_count(&cmd, "JOB_COMPLETION_INDEX"),
        n,
        "--shard ${{JOB_COMPLETION_INDEX}}/N must use N = completions"
    );
    assert!(cmd.contains("--seeds \"$SEEDS\""), "{cmd}");
    assert!(
        cmd.contains("/reports/report-${JOB_COMPLETION_INDEX}.json"),
        "{cmd}"
    );
    env(fuzz, "SEEDS");
    assert_eq!(
        string(fuzz, &["resources", "requests", "cpu"]),
        "2",
        "the pod requests the 2 CPUs `--jobs 2` uses"
    );
    assert_eq!(string(fuzz, &["resources", "requests", "memory"]), "2Gi");
    assert!(string(fuzz, &["image"]).contains("walsim-vopr"));

    let claim = reports_claim(job);
    let pvc = docs
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("PersistentVolumeClaim"))
        .expect("the report volume claim is not in the manifest");
    assert_eq!(string(pvc, &["metadata", "name"]), claim);
    assert!(
        sequence(pvc, &["spec", "accessModes"])
            .iter()
            .any(|mode| mode.as_str() == Some("ReadWriteMany")),
        "shard pods on different nodes share the claim: it must be ReadWriteMany"
    );

    let merge_docs = documents(MERGE_JOB);
    let merge = the_job(&merge_docs);
    let merge_container = container(merge);
    let merge_cmd = command(merge_container);
    assert!(
        merge_cmd.contains("vopr merge /reports/report-*.json --json /reports/merged.json"),
        "{merge_cmd}"
    );
    assert_eq!(
        env(merge_container, "SHARDS").parse::<u64>().ok(),
        Some(n),
        "the merge Job must expect as many reports as there are completions"
    );
    assert_eq!(
        reports_claim(merge),
        claim,
        "the merge Job must read the claim the shards write"
    );
    assert_eq!(
        string(merge_container, &["image"]),
        string(fuzz, &["image"])
    );
}

#[test]
fn dockerfile_builds_the_vopr_the_manifests_run() {
    let dockerfile = read(DOCKERFILE);
    assert!(dockerfile.contains("cargo build --release --locked -p simulator --bin vopr"));
    assert!(dockerfile.contains("FROM debian:bookworm-slim"));
    assert!(dockerfile.contains("FROM rust:1"));
    assert!(dockerfile.contains("/usr/local/bin/vopr"));
}
