"""The Argilla web UI, in headless Chromium, shows a pushed trajectory on the annotation page."""

from __future__ import annotations

import pytest

from tests.browser import start_chromium
from tests.curate.conftest import make_dataset
from tests.factories import make_trajectory
from trajkit.curate.client import Target
from trajkit.curate.push import push

pytestmark = pytest.mark.server

QUESTION = "Which lighthouse keeper of Skerrvore first logged the green flash in 1887?"


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def test_annotation_page_shows_the_question(argilla, sdk, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    trajectory = make_trajectory(7, correct=False, error_at=0)
    trajectory.task.question = QUESTION
    source = make_dataset(tmp_path / "ds", [trajectory], name="browser-check")
    result = push(source.path, Target(argilla.info.url, argilla.info.api_key))
    wait = WebDriverWait(browser, 60)

    # log in through the UI's own form
    browser.get(f"{argilla.info.url}/sign-in")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type='password']")))
    username, password = browser.find_elements(By.TAG_NAME, "input")[:2]
    username.send_keys(argilla.info.username)
    password.send_keys(argilla.info.password)
    browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait.until(lambda d: "/sign-in" not in d.current_url)

    browser.get(result.dataset_url)
    wait.until(lambda d: QUESTION in d.find_element(By.TAG_NAME, "body").text)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Verdict" in page and "Error tags" in page  # the questions trajkit defines
    assert "Step 1" in page and "execution_error" in page  # the steps, rendered from the chat field
