"""The web page in a real headless Chromium (Debian's, driven by Playwright): upload a CSV,
watch it train, predict with the model. Screenshots go to tests/.artifacts/screenshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ARTIFACTS
from tests.factories import classification_frame, records

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (scripts/test installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-quic",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_a_person_uploads_a_csv_watches_it_train_and_predicts(stack, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    csv = tmp_path / "customers.csv"
    classification_frame(rows=300, seed=41).to_csv(csv, index=False)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []  # the console's errors (a missing favicon is one) and uncaught ones
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack.api_url)
    page.wait_for_load_state("networkidle")
    assert errors == []
    page.set_input_files("#file", str(csv))
    page.wait_for_selector("#train-form:not([hidden])")
    assert page.input_value("#target") == "churn"
    page.fill("#time-budget", "3")
    page.screenshot(path=str(SHOTS / "1-train.png"))
    page.click("#train-button")
    page.wait_for_url("**/#/job/*", timeout=60_000)
    page.wait_for_selector("#job-status.completed", timeout=90_000)
    model_id = page.text_content("#job-model")
    assert model_id.startswith("models:/customers/")
    assert "roc_auc" in page.text_content("#job-metrics")
    # the chosen model first and marked, then each family's best; every candidate folded away
    first = page.locator("#job-leaderboard tbody tr").first
    assert "picked" in first.get_attribute("class") and "✔" in first.text_content()
    assert page.text_content("#job-chosen") != ""
    with stack.http() as client:
        result = client.get(f"/api/model-train/status/{page.url.rsplit('/', 1)[1]}").json()[
            "result"
        ]
    assert page.locator("#job-candidates-table tbody tr").count() == len(result["leaderboard"])
    assert page.is_hidden("#job-checks") == (not result["guardrails"].get("warnings"))
    page.wait_for_function("document.querySelectorAll('#job-plots img').length >= 2")
    # what drives the model: one bar row (name, two bar halves, number) per column it uses
    page.wait_for_selector("#job-why:not([hidden])")
    assert page.locator("#job-why-bars > span:not(.num)").count() >= 2
    page.screenshot(path=str(SHOTS / "2-job.png"), full_page=True)

    page.click("#job-predict")
    page.wait_for_selector("#view-predict:not([hidden])")
    assert page.input_value("#predict-model") == model_id
    rows = records(classification_frame(rows=3, seed=42).drop(columns=["churn"]))
    page.fill("#predict-rows", json.dumps(rows))
    page.check("#predict-proba")
    page.click("#predict-form button")
    page.wait_for_selector("#predict-table tbody tr")
    assert page.locator("#predict-table tbody tr").count() == 3
    assert "P(yes)" in page.text_content("#predict-table thead")
    # the first row's contributions as a bar chart; clicking another row shows that one
    page.wait_for_selector("#predict-why:not([hidden])")
    assert page.text_content("#predict-why-title").startswith("Why row 1: P(")
    names = page.locator("#predict-why-bars > span:not(.num)").all_text_contents()
    assert set(names) == {"age", "income", "city"}
    widths = page.eval_on_selector_all(
        "#predict-why-bars > .pos, #predict-why-bars > .neg", "bars => bars.map(b => b.offsetWidth)"
    )
    assert max(widths) > 0, "no bar has a width"
    page.locator("#predict-table tbody tr").nth(2).click()
    assert page.text_content("#predict-why-title").startswith("Why row 3:")
    page.screenshot(path=str(SHOTS / "3-predict.png"), full_page=True)
    # a whole file (two upload chunks) as a batch job: progress, then a download link
    big = tmp_path / "many customers.csv"
    classification_frame(rows=80_000, seed=43).drop(columns=["churn"]).to_csv(big, index=False)
    page.set_input_files("#batch-file", str(big))
    page.click("#batch-button")
    page.wait_for_selector("#batch-download:not([hidden])", timeout=90_000)
    assert "80000 rows predicted" in page.text_content("#batch-text")
    with page.expect_download() as download:
        page.click("#batch-download")
    saved = tmp_path / "batch-result.csv"
    download.value.save_as(saved)
    result = pd.read_csv(saved)
    assert list(result.columns) == ["prediction", "proba_no", "proba_yes"] and len(result) == 80_000
    assert download.value.suggested_filename == "many customers-predictions.csv"
    page.screenshot(path=str(SHOTS / "7-batch.png"), full_page=True)

    page.goto(f"{stack.api_url}/#/jobs")
    page.wait_for_selector("#jobs-table tbody tr")
    assert "customers.csv" in page.text_content("#jobs-table")
    page.screenshot(path=str(SHOTS / "4-jobs.png"), full_page=True)
    assert errors == []
    page.close()


def test_the_page_refuses_a_file_that_is_not_a_csv(stack, browser, tmp_path):
    other = tmp_path / "photo.png"
    other.write_bytes(b"\x89PNG....")
    page = browser.new_page()
    page.goto(stack.api_url)
    page.set_input_files("#file", str(other))
    assert "not a CSV file" in page.text_content("#train-error")
    assert page.is_hidden("#train-form")
    page.close()


def test_a_person_is_told_a_file_was_trained_retrains_it_and_manages_versions(
    stack, browser, tmp_path
):
    csv = tmp_path / "browsed.csv"
    classification_frame(rows=150, seed=43).to_csv(csv, index=False)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.on("dialog", lambda dialog: dialog.accept())  # "delete …?" and "remove its aliases?"

    def train(force: bool = False) -> None:
        page.goto(stack.api_url)
        page.set_input_files("#file", str(csv))
        page.wait_for_selector("#train-form:not([hidden])")
        page.fill("#time-budget", "1")
        page.set_checked("#force", force)
        page.click("#train-button")

    train()
    page.wait_for_url("**/#/job/*", timeout=60_000)
    first_job = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#job-status.completed", timeout=90_000)
    model_id = page.text_content("#job-model")

    train()  # the same file and options: nothing is uploaded past the first chunk
    page.wait_for_selector("#train-note a")
    assert page.text_content("#train-note").startswith(f"Already trained: {model_id}")
    page.screenshot(path=str(SHOTS / "5-already-trained.png"))

    page.goto(f"{stack.api_url}/#/job/{first_job}")
    page.wait_for_selector("#job-status.completed")
    page.fill("#retrain-target", "income")
    page.fill("#retrain-budget", "1")
    page.check("#retrain-families input[value=lightgbm]")  # the families /api/info names
    page.click("#retrain-button")
    page.wait_for_function(f"!location.hash.endsWith('{first_job}')")
    new_job = page.url.rsplit("/", 1)[1]
    page.wait_for_function(f"document.getElementById('job-id').textContent === '{new_job}'")
    page.wait_for_selector("#job-status.completed", timeout=90_000)
    assert page.text_content("#job-origin") == f"retrain of {first_job[:8]}"
    with stack.http() as client:
        options = client.get(f"/api/model-train/status/{new_job}").json()["options"]
    assert options["families"] == ["lightgbm"]
    assert "r2" in page.text_content("#job-metrics")
    retrained = page.text_content("#job-model")

    page.goto(f"{stack.api_url}/#/models")

    def row(model: str):
        return page.locator("#models-table tbody tr", has_text=model)

    # judged on another target (and task): training leaves the champion where it was
    assert "@champion" in row(model_id).text_content()
    assert "@champion" not in row(retrained).text_content()
    row(retrained).get_by_role("button", name="Make champion").click()  # by hand
    row(retrained).filter(has_text="@champion").wait_for()
    assert "@champion" not in row(model_id).text_content()
    # a drift badge per version; clicking it shows the per-column table
    badge = row(model_id).locator("button.badge")
    badge.filter(has_text="rows").wait_for()  # fewer rows than MODELTRAIN_DRIFT_MIN_ROWS
    badge.click()
    page.wait_for_selector("#drift:not([hidden])")
    assert {"age", "income", "city"} <= set(
        page.locator("#drift-table tbody tr td:first-child").all_text_contents()
    )
    page.screenshot(path=str(SHOTS / "6-models.png"), full_page=True)
    row(retrained).get_by_role("button", name="Delete").click()
    row(retrained).wait_for(state="detached")
    assert page.text_content("#models-error") == ""
    page.close()
