"""The HTML pages in a real headless Chromium against a real server: the job page of a running
job renders (screenshot and DOM), and a user can run a process from its form and dismiss the
job from its page (driven through chromedriver's WebDriver protocol).

Chromium comes from ``scripts/ensure-chromium`` (``make test`` runs it). Under CI the tests
must run; elsewhere they skip, saying why, when the browser is missing.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import free_port, running_server
from tests.waiting import scaled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,900",
]  # fmt: skip
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key


def tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not os.path.exists(path):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing in CI: scripts/ensure-chromium should have installed it")
        pytest.skip(f"{name} is not installed (run scripts/ensure-chromium, or `make test`)")
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--ephemeral") as url:
        yield url


@pytest.fixture
def running_job(server: str) -> Iterator[str]:
    with httpx.Client(timeout=scaled(30)) as client:
        location = client.post(
            f"{server}/processes/mockup/execution",
            json={"inputs": {"duration": 60}},
            headers={"Prefer": "respond-async"},
        ).headers["location"]
        wait_for(lambda: client.get(location).json()["progress"] >= 10, 60, "the job to reach 10%")
        yield location
        client.delete(location)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [tool("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=scaled(90), cwd=tmp_path)


def png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the (still filtered) scanlines of a PNG, read with struct and zlib."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, stride = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            stride = 1 + width * {0: 1, 2: 3, 4: 2, 6: 4}[colour] * depth // 8
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, [raw[i : i + stride] for i in range(0, len(raw), stride)]


def test_the_job_page_of_a_running_job_looks_right(tmp_path, server, running_job):
    page = f"{running_job}?f=html"
    shot = tmp_path / "job.png"
    result = chromium(tmp_path, f"--screenshot={shot}", page)
    assert shot.exists(), result.stderr
    data = shot.read_bytes()
    width, height, rows = png_rows(data)
    assert (width, height) == (1200, 900) and len(data) > 20_000
    assert len(set(rows)) > 100, "the screenshot is (nearly) one colour"
    shutil.copy(shot, Path(os.environ.get("TMPDIR", "/tmp")) / "dpr-job-page.png")  # for a human to look at
    dom = chromium(tmp_path, "--dump-dom", page).stdout
    assert '<progress id="progress"' in dom and 'id="dismiss"' in dom and ">running<" in dom
    assert "mockup: step" in dom


class WebDriver:
    """Just enough of the W3C WebDriver protocol, spoken to chromedriver with httpx."""

    def __init__(self, url: str, profile: Path, *extra: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=scaled(60))
        options = {"binary": tool("chromium"), "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra]}
        answer = self.http.post("/session", json={"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
        self.session = f"/session/{answer.json()['value']['sessionId']}"

    def go(self, url: str) -> None:
        self.http.post(f"{self.session}/url", json={"url": url})

    def url(self) -> str:
        return self.http.get(f"{self.session}/url").json()["value"]

    def find(self, css: str) -> str:
        return self.http.post(f"{self.session}/element", json={"using": "css selector", "value": css}).json()["value"][
            ELEMENT
        ]

    def text(self, css: str) -> str:
        """The element's text; "" while there is no such element (a page being reloaded)."""
        found = self.http.post(f"{self.session}/element", json={"using": "css selector", "value": css}).json()
        if ELEMENT not in found["value"]:
            return ""
        return self.http.get(f"{self.session}/element/{found['value'][ELEMENT]}/text").json()["value"]

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        self.http.post(f"{self.session}/element/{element}/clear", json={})
        self.http.post(f"{self.session}/element/{element}/value", json={"text": text})

    def click(self, css: str) -> None:
        self.http.post(f"{self.session}/element/{self.find(css)}/click", json={})

    def script(self, source: str):
        return self.http.post(f"{self.session}/execute/sync", json={"script": source, "args": []}).json()["value"]

    def wait(self, condition, timeout: float = 30):
        return wait_for(condition, timeout, "the page to show it", interval=0.1)

    def accept_dialog(self) -> str:
        """Accept the open ``confirm()`` dialog (waiting for it); its text."""

        def open_dialog() -> str | None:
            answer = self.http.get(f"{self.session}/alert/text")  # 404 "no such alert" until it opens
            return answer.json()["value"] if answer.status_code == 200 else None

        text = self.wait(open_dialog)
        self.http.post(f"{self.session}/alert/accept", json={})
        return str(text)

    def quit(self) -> None:
        self.http.delete(self.session)
        self.http.close()


@pytest.fixture
def browser(tmp_path) -> Iterator[WebDriver]:
    yield from webdriver(tmp_path)


@pytest.fixture
def offline_browser(tmp_path) -> Iterator[WebDriver]:
    """A browser that can reach 127.0.0.1 and no other host: as on a machine without internet."""
    yield from webdriver(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")


def webdriver(tmp_path: Path, *extra: str) -> Iterator[WebDriver]:
    port = free_port()
    driver = subprocess.Popen(
        [tool("chromedriver"), f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: httpx.get(f"{url}/status").json()["value"]["ready"],
            30,
            "chromedriver to be ready",
            ignoring=(httpx.TransportError,),
        )
        web = WebDriver(url, tmp_path / "profile", *extra)
        yield web
        web.quit()
    finally:
        driver.terminate()
        driver.wait(timeout=scaled(30))


def test_a_user_runs_a_process_from_its_form_and_dismisses_the_job(server, browser):
    browser.go(f"{server}/processes/mockup?f=html")
    browser.type("#in-duration", "30")
    browser.type("#in-product_type", "S2MSI1C")
    browser.click("#run")
    assert browser.wait(lambda: "/jobs/" in browser.url()), browser.url()
    assert browser.url().endswith("?f=html")
    assert browser.wait(lambda: browser.text("#status") == "running")
    assert browser.wait(lambda: "processing S2MSI1C" in browser.text("#log"))
    browser.click("#dismiss")
    assert "Cancel this run" in browser.accept_dialog()
    assert browser.wait(lambda: browser.text("#status") == "dismissed")
    job = httpx.get(browser.url().replace("?f=html", ""), timeout=scaled(30)).json()
    assert job["status"] == "dismissed" and job["processID"] == "mockup"


def test_the_form_shows_the_servers_refusal(server, browser):
    browser.go(f"{server}/processes/echo?f=html")
    browser.type("#in-echo", "hello")
    browser.type("#in-array", "[1, ")
    browser.click("#run")
    assert browser.wait(lambda: "not valid JSON" in browser.text("#execute-error"))
    browser.type("#in-array", '["x"]')
    browser.click("#run")
    assert browser.wait(lambda: "input 'array'" in browser.text("#execute-error"))


def test_the_api_docs_show_the_operations_offline_and_load_nothing_from_elsewhere(server, offline_browser):
    browser = offline_browser
    browser.go(f"{server}/api/docs")
    operations = ".opblock-summary-path"
    assert browser.wait(lambda: browser.script(f"return document.querySelectorAll('{operations}').length") > 10)
    paths = browser.script(f"return [...document.querySelectorAll('{operations}')].map(e => e.innerText)")
    assert any(p.replace("\u200b", "").endswith("/execution") for p in paths), paths
    loaded = browser.script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(server + "/") for url in loaded), loaded
