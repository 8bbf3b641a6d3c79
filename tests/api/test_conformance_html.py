"""Conformance class ``html``: content negotiation, HTML pages for every resource and job state,
alternate links both ways, ``Link`` headers, and escaping of what users can influence."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from msgspec.structs import replace

from dpr.domain.documents import Link
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.links import in_format, link_header
from dpr.entrypoints.http.negotiation import Format, choose_format
from tests.api.conftest import wait_for
from tests.builders import make_job
from tests.ogc_schemas import check

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTML_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html"
EVIL = '<script>alert("owned")</script>'
SCHEMAS = {
    "/": "landingPage.yaml",
    "/conformance": "confClasses.yaml",
    "/processes": "processList.yaml",
    "/processes/echo": "process.yaml",
    "/jobs": "jobList.yaml",
}


class Anchors(HTMLParser):
    """Every ``<a href>`` of a page, and whether the page has an ``<html>`` root."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a" and dict(attrs).get("href"):
            self.hrefs.append(dict(attrs)["href"] or "")


def anchors(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser


def header_links(response) -> list[tuple[str, str, str]]:
    """(href, rel, type) of every link in the ``Link`` header."""
    param = r'[\w*]+=(?:"(?:[^"\\]|\\.)*"|[^;,\s"]+)'
    found = re.findall(rf"<([^>]*)>((?:\s*;\s*{param})*)", response.headers.get("link", ""))
    out = []
    for href, params in found:
        attrs = {k: v.strip('"') for k, v in re.findall(r'([\w*]+)=("(?:[^"\\]|\\.)*"|[^;,\s"]+)', params)}
        out.append((href, attrs.get("rel", ""), attrs.get("type", "")))
    return out


def body_links(doc: dict) -> list[tuple[str, str, str]]:
    return [(link["href"], link.get("rel", ""), link.get("type", "")) for link in doc.get("links", [])]


def is_html(response) -> bool:
    return response.headers["content-type"].startswith("text/html") and response.text.lstrip().startswith(
        "<!DOCTYPE html>"
    )


def add_jobs(client, container, *jobs) -> None:
    for job in jobs:
        client.blocking_portal.call(container.repository().add, job)


@pytest.fixture
def job_url(client) -> str:
    location = client.post(
        "/processes/echo/execution", json={"inputs": {"echo": "hi"}}, headers={"Prefer": "respond-async"}
    ).headers["location"]
    wait_for(client, location, "successful")
    return location


def test_html_is_declared(client):
    assert HTML_CONF in client.get("/conformance").json()["conformsTo"]


@pytest.mark.parametrize("url", ["/", "/conformance", "/processes", "/processes/echo", "/jobs"])
@pytest.mark.parametrize(
    ("headers", "params", "html"),
    [
        ({}, {}, False),
        ({"Accept": "*/*"}, {}, False),
        ({"Accept": "application/json"}, {}, False),
        ({"Accept": "text/html"}, {}, True),
        ({"Accept": BROWSER}, {}, True),
        ({"Accept": "application/json;q=0.5, text/html"}, {}, True),
        ({"Accept": "text/html;q=0.5, application/json"}, {}, False),
        ({"Accept": "application/json"}, {"f": "html"}, True),
        ({"Accept": BROWSER}, {"f": "json"}, False),
        ({}, {"f": "HTML"}, True),
    ],
    ids=["none", "any", "json", "html", "browser", "html-preferred", "json-preferred", "f-html", "f-json", "f-upper"],
)
def test_negotiation_matrix(client, url, headers, params, html):
    response = client.get(url, headers=headers, params=params)
    assert response.status_code == 200 and "Accept" in response.headers["vary"]
    if html:
        assert is_html(response)
    else:
        assert response.headers["content-type"] == "application/json"
        check(response.json(), SCHEMAS[url])


@pytest.mark.parametrize("url", ["/", "/conformance", "/processes", "/processes/echo", "/jobs", "/jobs/nope", "/api"])
@pytest.mark.parametrize("f", ["xml", "", "json,html"])
def test_an_unknown_f_is_a_400_exception_in_json(client, url, f):
    response = client.get(url, params={"f": f}, headers={"Accept": BROWSER})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    check(response.json(), "exception.yaml")
    assert response.json()["type"].endswith("invalid-parameter-value") and "'f'" in response.json()["detail"]


def test_two_different_f_values_are_refused(client):
    assert client.get("/?f=json&f=html").status_code == 400
    assert client.get("/?f=html&f=html").status_code == 200


@pytest.mark.parametrize("url", ["/", "/processes", "/processes/echo", "/jobs", "JOB"])
def test_json_self_links_have_a_working_html_alternate(client, job_url, url):
    doc = client.get(job_url if url == "JOB" else url).json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert rels["self"]["type"] == "application/json" and "f=" not in rels["self"]["href"]
    alternate = rels["alternate"]
    assert (
        alternate["type"] == "text/html"
        and alternate["href"] == rels["self"]["href"] + ("&" if "?" in rels["self"]["href"] else "?") + "f=html"
    )
    assert is_html(client.get(alternate["href"]))


def test_items_of_lists_link_to_their_html_pages_too(client, job_url):
    jobs = client.get("/jobs").json()
    check(jobs, "jobList.yaml")
    for item in client.get("/processes").json()["processes"] + jobs["jobs"]:
        assert [link["rel"] for link in item["links"]][:2] == ["self", "alternate"]
        assert is_html(client.get(item["links"][1]["href"]))


@pytest.mark.parametrize("url", ["/", "/conformance", "/processes", "/processes/mockup", "/jobs", "JOB", "JOB/results"])
def test_html_pages_link_back_to_json_and_show_every_link(client, job_url, url):
    response = client.get((job_url + url[3:]) if url.startswith("JOB") else url, params={"f": "html"})
    assert response.status_code == 200 and is_html(response)
    links = header_links(response)
    rels = {rel: (href, kind) for href, rel, kind in links}
    assert rels["self"][1] == "text/html" and "f=html" in rels["self"][0]
    assert rels["alternate"][1] == (
        "" if url == "JOB/results" else "application/json"
    )  # raw results: the outputs' types
    assert rels["alternate"][0].endswith("f=json")
    hrefs = anchors(response.text).hrefs
    assert {href for href, _, _ in links} <= set(hrefs), "every link is an <a> in the page"
    alternate = client.get(rels["alternate"][0])
    assert alternate.status_code == 200 and not alternate.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/", "/processes", "/processes/echo", "/jobs", "JOB"])
def test_link_headers_mirror_the_body_links(client, job_url, url):
    response = client.get(job_url if url == "JOB" else url)
    assert header_links(response) == body_links(response.json())


def test_conformance_and_logs_and_dismissal_carry_link_headers(client, job_url):
    assert [rel for _, rel, _ in header_links(client.get("/conformance"))] == ["self", "alternate"]
    logs = client.get(job_url + "/logs")
    assert header_links(logs) == body_links(logs.json())
    dismissed = client.delete(job_url)
    assert header_links(dismissed) == body_links(dismissed.json())


def test_async_execution_mirrors_the_status_links_in_its_link_header(client):
    response = client.post(
        "/processes/mockup/execution", json={"inputs": {"duration": 0.1}}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 201
    assert header_links(response) == body_links(response.json())
    wait_for(client, response.headers["location"], "successful")


def state_jobs() -> list:
    """One job per status, each with a hostile message."""
    return [
        replace(make_job(job_id=f"job-{s}", process_id="mockup", status=s), message=f"{s} {EVIL}") for s in JobStatus
    ]


@pytest.mark.parametrize("status", list(JobStatus))
def test_every_job_state_has_a_job_page_that_escapes_its_message(client, container, status):
    add_jobs(client, container, *state_jobs())
    client.blocking_portal.call(
        container.log_store().append, f"job-{status}", make_job().created, "INFO", f"line {EVIL}"
    )
    response = client.get(f"/jobs/job-{status}", headers={"Accept": BROWSER})
    assert response.status_code == 200 and is_html(response)
    page = response.text
    assert EVIL not in page and "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page
    assert f'<span id="status" class="badge {status}">{status}</span>' in page
    assert 'id="progress"' in page and 'id="dismiss"' in page
    assert page.count("line &lt;script&gt;") == 1
    assert ('http-equiv="refresh"' in page) is (not status.is_terminal)
    assert ("<h2>Results</h2>" in page) is (status is JobStatus.SUCCESSFUL)


def test_the_job_list_page_shows_every_state_escaped_and_filters(client, container):
    add_jobs(client, container, *state_jobs())
    page = client.get("/jobs", params={"f": "html"}).text
    assert EVIL not in page and all(f"job-{s}" in page for s in JobStatus)
    filtered = client.get("/jobs", params={"f": "html", "status": ["running", "failed"], "processID": "mockup"}).text
    assert "job-running" in filtered and "job-failed" in filtered and "job-accepted" not in filtered
    assert 'value="running" checked' in filtered and 'value="mockup" selected' in filtered


def test_the_job_list_page_pages_with_the_cursor_next_link(client, container):
    add_jobs(client, container, *state_jobs())
    first = client.get("/jobs", params={"f": "html", "limit": 2})
    next_href = [href for href, rel, _ in header_links(first) if rel == "next"][0]
    assert "cursor=" in next_href and "f=html" in next_href and next_href in anchors(first.text).hrefs
    second = client.get(next_href)
    assert is_html(second) and "First page" in second.text
    json_ids = [j["jobID"] for j in client.get("/jobs", params={"limit": 5}).json()["jobs"]]
    assert json_ids[0] in first.text and json_ids[2] in second.text and json_ids[2] not in first.text


@pytest.mark.parametrize(
    ("status", "code"), [("accepted", 404), ("running", 404), ("successful", 200), ("failed", 500), ("dismissed", 404)]
)
def test_results_pages_answer_like_the_json_in_every_state(client, container, status, code):
    add_jobs(client, container, *state_jobs())
    html = client.get(f"/jobs/job-{status}/results", params={"f": "html"})
    assert html.status_code == client.get(f"/jobs/job-{status}/results").status_code == code
    assert is_html(html) and EVIL not in html.text


def test_errors_are_html_pages_for_browsers_and_json_for_others(client):
    page = client.get("/jobs/nope", headers={"Accept": BROWSER})
    assert page.status_code == 404 and is_html(page) and "no-such-job" in page.text
    assert client.get("/jobs/nope").json()["status"] == 404
    assert client.get("/nowhere/<b>", headers={"Accept": BROWSER}).text.count("<b>") == 0


def test_the_process_page_has_a_form_field_per_input_driven_by_its_schema(client):
    page = client.get("/processes/mockup", params={"f": "html"}).text
    assert '<form id="execute"' in page and 'action="http://dpr.test/processes/mockup/execution"' in page
    assert 'id="in-duration" data-input="duration" data-kind="number"' in page and 'max="86400"' in page
    assert 'id="in-fail" data-input="fail" data-kind="boolean"' in page
    assert 'id="in-product_type" data-input="product_type" data-kind="text" value="S1SEWRAW"' in page
    echo = client.get("/processes/echo", params={"f": "html"}).text
    assert 'data-input="echo" data-kind="text" value="" required' in echo
    assert 'data-input="array" data-kind="json"' in echo and 'data-input="pause" data-kind="integer"' in echo


def test_every_page_is_an_html5_document(client, job_url):
    for url in ("/", "/conformance", "/processes", "/processes/echo", "/jobs", job_url, job_url + "/results"):
        page = anchors(client.get(url, params={"f": "html"}).text)
        assert {"html", "head", "title", "body", "main"} <= page.tags


@pytest.mark.parametrize(
    ("f", "accept", "expected"),
    [
        ([], None, Format.JSON),
        ([], "", Format.JSON),
        ([], "image/png", Format.JSON),
        ([], "text/*", Format.HTML),
        ([], "text/html;q=0, */*", Format.JSON),
        ([], "text/html;q=bogus, application/json;q=0.1", Format.JSON),
        ([" Html "], "application/json", Format.HTML),
        (["json", "JSON"], "text/html", Format.JSON),
    ],
)
def test_choose_format_rules(f, accept, expected):
    assert choose_format(f, accept) is expected


def test_in_format_replaces_f_and_keeps_the_rest():
    href = "http://x/jobs?status=accepted%2Crunning&f=json&cursor=abc"
    assert in_format(href, Format.HTML) == "http://x/jobs?status=accepted%2Crunning&cursor=abc&f=html"
    assert in_format(href, None) == "http://x/jobs?status=accepted%2Crunning&cursor=abc"


@pytest.mark.parametrize(
    "href", ["http://x/jobs/1", "http://x/", "/relative/path", "http://x/a%20b", "http://x/jobs?", "http://x/p#frag"]
)
def test_in_format_of_a_link_without_a_query_is_the_general_rule(href):
    parts = urlsplit(href)
    for fmt in (Format.HTML, Format.JSON, None):
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "f"] + ([("f", fmt.value)] if fmt else []))
        assert in_format(href, fmt) == urlunsplit(parts._replace(query=query))


def test_link_headers_quote_what_needs_quoting_and_leave_single_token_relations_bare():
    links = [
        Link(href="http://x/a b", rel="self", title='say "hi"\\'),
        Link(href="http://x/é", rel="alternate", title="café"),
        Link(href="http://x/r", rel="http://www.opengis.net/def/rel/ogc/1.0/results", type="application/json"),
    ]
    assert link_header(links) == (
        '<http://x/a%20b>; rel=self; title="say \\"hi\\"\\\\", '
        "<http://x/%C3%A9>; rel=alternate; title*=UTF-8''caf%C3%A9, "
        '<http://x/r>; rel="http://www.opengis.net/def/rel/ogc/1.0/results"; type="application/json"'
    )
    assert link_header(links).isascii()
