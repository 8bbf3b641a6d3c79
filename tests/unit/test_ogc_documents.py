"""Every document dpr builds is valid against the official OGC API - Processes 1.0 schemas."""

from __future__ import annotations

import msgspec
import pytest

from dpr.adapters.processors.echo import EchoProcessor
from dpr.adapters.processors.mockup import MockupProcessor
from dpr.domain import ogc
from dpr.domain.errors import InvalidInput, NoSuchJob, NoSuchProcess, Overloaded, ResultNotReady
from dpr.domain.execute import ExecuteRequest, OutputRequest
from dpr.domain.query import Cursor, JobPage
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.problems import problem_for
from dpr.entrypoints.http.raw import raw_results
from tests.builders import make_job
from tests.ogc_schemas import check

BASE = "https://dpr.example.org/ogc"
ECHO = EchoProcessor().describe()


@pytest.mark.parametrize("status", list(JobStatus))
def test_status_info_is_valid_in_every_status(status):
    check(ogc.status_info(make_job(status=status), BASE), "statusInfo.yaml")


def test_status_info_links_results_only_once_successful():
    rels = lambda job: [link.rel for link in ogc.status_info(job, BASE).links]  # noqa: E731
    assert rels(make_job(status=JobStatus.RUNNING)) == ["self", "monitor"]
    assert rels(make_job(status=JobStatus.FAILED)) == ["self", "monitor"]
    assert rels(make_job(status=JobStatus.SUCCESSFUL))[-1] == ogc.REL + "results"


def test_status_info_timestamps_are_rfc3339_utc():
    doc = msgspec.json.decode(msgspec.json.encode(ogc.status_info(make_job(status=JobStatus.SUCCESSFUL), BASE)))
    assert doc["created"] == "2026-01-01T12:00:00Z" and doc["finished"] == "2026-01-01T12:00:02Z"


def test_job_list_is_valid_and_keeps_filters_in_its_next_link():
    page = JobPage(jobs=[make_job(), make_job(job_id="j2")], next=Cursor(created=make_job().created, job_id="j2"))
    doc = ogc.job_list(page, BASE, {"status": ["accepted"], "limit": ["2"]})
    check(doc, "jobList.yaml")
    next_link = [link for link in doc.links if link.rel == "next"][0]
    assert next_link.href.startswith(BASE + "/jobs?status=accepted&limit=2&cursor=")


@pytest.mark.parametrize("process", [ECHO, MockupProcessor().describe()], ids=lambda p: p.id)
def test_process_descriptions_are_valid(process):
    check(ogc.process_document(process, BASE), "process.yaml")


def test_process_list_is_valid_with_paging_links():
    doc = ogc.process_list([ECHO], BASE, limit=1, offset=1, total=3)
    check(doc, "processList.yaml")
    assert {link.rel for link in doc.links} == {"self", "next", "prev"}


def test_landing_page_and_conformance_are_valid():
    landing = ogc.landing_page(BASE, "dpr", "test")
    check(landing, "landingPage.yaml")
    rels = {link.rel: link.type for link in landing.links}
    assert rels["service-desc"] == "application/vnd.oai.openapi+json;version=3.0"
    assert {"service-doc", ogc.REL + "conformance", ogc.REL + "processes", ogc.REL + "job-list"} <= set(rels)
    check(ogc.conformance(), "confClasses.yaml")


def test_results_document_is_valid_and_respects_output_selection():
    job = make_job(status=JobStatus.SUCCESSFUL)
    job = msgspec.structs.replace(job, results={"echo": "hi", "inputs": {"echo": "hi"}})
    doc = ogc.results_document(job, ECHO)
    check(doc, "results.yaml")
    assert doc == {"echo": "hi", "inputs": {"value": {"echo": "hi"}, "mediaType": "application/json"}}
    only = msgspec.structs.replace(job, request=ExecuteRequest(outputs={"echo": OutputRequest()}))
    assert ogc.results_document(only, ECHO) == {"echo": "hi"}


@pytest.mark.parametrize(
    ("error", "status", "suffix"),
    [
        (NoSuchProcess("p"), 404, "ogcapi-processes-1/1.0/no-such-process"),
        (NoSuchJob("j"), 404, "ogcapi-processes-1/1.0/no-such-job"),
        (ResultNotReady("j", "running"), 404, "ogcapi-processes-1/1.0/result-not-ready"),
        (InvalidInput("bad", "x"), 400, "invalid-input"),
        (Overloaded("busy", 7), 429, "overloaded"),
    ],
)
def test_errors_become_valid_exceptions_with_the_standards_type_uris(error, status, suffix):
    problem = problem_for(error, instance="/x")
    check(problem.body, "exception.yaml")
    assert problem.status == status and problem.body.type.endswith(suffix)
    assert problem.body.detail == str(error)


def test_overload_tells_when_to_retry():
    assert problem_for(Overloaded("busy", 7)).headers == {"Retry-After": "7"}


def test_one_raw_output_is_itself_and_several_are_multipart():
    one = raw_results({"echo": "hi"}, ECHO, boundary="B")
    assert (one.media_type, one.content) == ("text/plain; charset=utf-8", b"hi")
    many = raw_results({"echo": "hi", "inputs": {"a": 1}}, ECHO, boundary="B")
    assert many.media_type == 'multipart/related; boundary="B"'
    assert many.content.count(b"--B\r\n") == 2 and many.content.endswith(b"--B--\r\n")
    assert b'Content-ID: <inputs>\r\n\r\n{"a":1}' in many.content
