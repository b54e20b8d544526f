"""The `modeltrain` command line against the running service, as separate processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.factories import classification_frame

pytestmark = pytest.mark.integration


def run(stack, *args: str, check_code: int | None = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "modeltrain", *args, "--url", stack.api_url],
        capture_output=True,
        text=True,
        timeout=180,
        env=stack.env,
    )
    if check_code is not None:
        assert result.returncode == check_code, result.stdout + result.stderr
    return result


def test_train_uploads_follows_and_prints_the_model_id(stack, tmp_path):
    path = tmp_path / "cli churn.csv"
    classification_frame(rows=250, seed=7).to_csv(path, index=False)
    trained = run(stack, "train", str(path), "--target", "churn", "--time-budget", "3")
    model_id = trained.stdout.strip().splitlines()[-1]
    assert model_id.startswith("models:/cli-churn/")
    assert "completed" in trained.stderr and "roc_auc" in trained.stderr
    # Not a terminal: a line per stage seen, with the search's best score once there is one.
    stages = re.findall(r"^([a-z]+) \d+%", trained.stderr, flags=re.MULTILINE)
    assert "training" in stages and stages[-1] == "done", trained.stderr
    assert len(stages) == len(set(stages)) and "(best 0." in trained.stderr

    listed = run(stack, "status")
    assert "cli churn.csv" in listed.stdout and model_id in listed.stdout
    models = run(stack, "models")
    row = next(line for line in models.stdout.splitlines() if model_id in line)
    assert "@champion" in row  # the first version of its name is its champion

    rows = tmp_path / "rows.csv"
    classification_frame(rows=5, seed=8).drop(columns=["churn"]).to_csv(rows, index=False)
    out = tmp_path / "out.csv"
    run(stack, "predict", model_id, str(rows), "-o", str(out), "--probabilities")
    table = pd.read_csv(out)
    assert list(table.columns) == ["prediction", "proba_no", "proba_yes"] and len(table) == 5

    # The same model as a batch job: a file of two upload chunks, predicted by the worker.
    big = tmp_path / "big.csv"
    classification_frame(rows=80_000, seed=10).drop(columns=["churn"]).to_csv(big, index=False)
    assert big.stat().st_size > 1024 * 1024
    batch_out, direct_out = tmp_path / "batch.csv", tmp_path / "direct.csv"
    batched = run(stack, "predict", model_id, "--batch", str(big), "-o", str(batch_out))
    assert "80000 predictions written" in batched.stderr and "done 100%" in batched.stderr
    run(stack, "predict", model_id, str(big), "-o", str(direct_out))
    assert batch_out.read_bytes() == direct_out.read_bytes()
    both = run(stack, "predict", model_id, str(rows), "--batch", str(rows), check_code=2)
    assert "either" in both.stderr


def test_train_without_wait_prints_the_tracking_id_and_status_shows_the_job(stack, tmp_path):
    path = tmp_path / "nowait.csv"
    classification_frame(rows=120, seed=9).to_csv(path, index=False)
    tracking_id = run(stack, "train", str(path), "--no-wait").stdout.strip()
    assert len(tracking_id) == 32
    one = run(stack, "status", tracking_id, check_code=None)
    assert tracking_id in one.stdout
    assert one.returncode == 0  # 1 only for a failed job; this one is fine at any stage


def test_a_failing_job_exits_non_zero_with_its_error(stack, tmp_path):
    path = tmp_path / "flat.csv"
    pd.DataFrame({"a": range(30), "label": ["same"] * 30}).to_csv(path, index=False)
    failed = run(stack, "train", str(path), check_code=1)
    assert "single class" in failed.stderr


def test_refusals_and_an_unreachable_service_are_clear_errors(stack, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused = run(stack, "train", str(empty), check_code=1)
    assert "the file is empty" in refused.stderr
    missing = run(stack, "predict", "models:/nope/1", str(empty), check_code=1)
    assert "error" in missing.stderr
    gone = subprocess.run(
        [sys.executable, "-m", "modeltrain", "models", "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, env=stack.env,
    )  # fmt: skip
    assert gone.returncode == 1 and "cannot reach" in gone.stderr


def test_connection_options_work_before_the_command_as_after_it(stack):
    def modeltrain(*args):
        return subprocess.run(
            [sys.executable, "-m", "modeltrain", *args],
            capture_output=True, text=True, timeout=60, env=stack.env,
        )  # fmt: skip

    assert modeltrain("--url", stack.api_url, "models").returncode == 0
    # given before, kept through a nested command; given after, it wins
    nested = modeltrain("--url", "http://127.0.0.1:9", "models", "alias", "m", "champion", "1")
    assert nested.returncode == 1 and "cannot reach" in nested.stderr
    after = modeltrain("--url", "http://127.0.0.1:9", "models", "--url", stack.api_url)
    assert after.returncode == 0, after.stderr


def test_the_lifecycle_commands(stack, tmp_path):
    path = tmp_path / "cli life.csv"
    classification_frame(rows=150, seed=31).to_csv(path, index=False)
    model_id = run(stack, "train", str(path), "--time-budget", "1").stdout.strip().splitlines()[-1]
    again = run(stack, "train", str(path), "--time-budget", "1")
    assert again.stdout.strip() == model_id and f"already trained: {model_id}" in again.stderr
    forced = run(stack, "train", str(path), "--time-budget", "1", "--force")
    assert "already trained" not in forced.stderr and forced.stdout.strip() != model_id
    listed = run(stack, "status").stdout.splitlines()
    tracking_id = next(line for line in listed if model_id in line).split()[1]

    retrained = run(stack, "retrain", tracking_id, "--target", "income", "--time-budget", "1",
                    "--families", "ridge,lightgbm")  # fmt: skip
    new_id = retrained.stdout.strip().splitlines()[-1]
    assert new_id.startswith("models:/cli-life/") and "retraining" in retrained.stderr
    new_job = retrained.stderr.split("as job", 1)[1].split()[0]
    with stack.http() as client:
        options = client.get(f"/api/model-train/status/{new_job}").json()["options"]
    assert options["families"] == ["linear", "lightgbm"] and options["target"] == "income"

    # the retrained version (judged on another target: not the champion) is aliased and deleted
    version = new_id.rsplit("/", 1)[1]
    aliased = run(stack, "models", "alias", "cli-life", "staging", version)
    assert aliased.stdout.strip() == new_id
    refused = run(stack, "models", "delete", "cli-life", version, check_code=1)
    assert "@staging" in refused.stderr and "force" in refused.stderr
    run(stack, "models", "alias", "cli-life", "staging", "--remove")
    deleted = run(stack, "models", "delete", "cli-life", version)
    assert f"deleted {new_id}" in deleted.stderr
    assert new_id not in run(stack, "models").stdout

    run(stack, "jobs", "delete", tracking_id)
    assert run(stack, "status", tracking_id, check_code=1).returncode == 1


def test_keys_new_prints_a_key_and_a_settings_line_that_gives_it_its_role():
    from modeltrain.api.auth import AccessKeys
    from modeltrain.config import Settings

    printed = subprocess.run(
        [sys.executable, "-m", "modeltrain", "keys", "new", "--role", "train"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.splitlines()  # fmt: skip
    key = printed[1].strip()
    line = printed[-1].strip().removeprefix("MODELTRAIN_API_KEYS='").removesuffix("'")
    keys = AccessKeys.from_settings(Settings(_env_file=None, api_keys=json.loads(line)))
    caller = keys.caller(key.encode())
    assert caller is not None and caller.role == "train"
