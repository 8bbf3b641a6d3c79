"""How events travel from Dask workers: batched, coalesced and capped so a chatty processor
cannot flood the service; and what a dead subprocess or a flood looks like in the job log."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from distributed import LocalCluster
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dpr.adapters.dask import DaskExecutor, SchedulerSource, WorkerTuning
from dpr.adapters.dask.gateway import choose
from dpr.adapters.dask.worker_events import cap_lines
from dpr.adapters.runner import utcnow
from dpr.domain.errors import Unavailable
from dpr.domain.events import Logged, Progressed, Started, Succeeded
from dpr.domain.run import Placement, ProcessorRef, WorkOrder
from tests.builders import make_job
from tests.contract.executors import Recorder, in_process_cluster
from tests.waiting import async_wait_for

pytestmark = pytest.mark.integration
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the cluster lives on the module's loop

ECHO = ProcessorRef(target="dpr.adapters.processors.echo:EchoProcessor")
CHATTY = ProcessorRef(target="tests.processors:ChattyProcessor")
SEQ = ProcessorRef(
    target="dpr.adapters.processors.command:CommandProcessor",
    options={"argv": ["seq", "{lines}"], "inputs": {"lines": {"type": "integer"}}},
)
TUNING = WorkerTuning(flush_interval=0.2, max_lines_per_batch=100)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster() -> AsyncIterator[LocalCluster]:
    async with in_process_cluster() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def dask(cluster: LocalCluster) -> AsyncIterator[tuple[DaskExecutor, Recorder]]:
    executor, recorder = DaskExecutor(SchedulerSource(cluster.scheduler_address), tuning=TUNING), Recorder()
    await executor.start(recorder)
    yield executor, recorder
    await executor.close()


@ON_MODULE_LOOP
async def test_thousands_of_progress_reports_reach_the_service_as_a_handful_of_events(dask):
    executor, recorder = dask
    work = WorkOrder(job_id="chatty-1", process_id="chatty", processor=CHATTY, inputs={"reports": 5000})
    await executor.submit(work)
    outcome = await recorder.outcome(work.job_id)
    progress = [e for e in recorder.of(work.job_id) if isinstance(e, Progressed)]
    assert isinstance(outcome, Succeeded) and outcome.outputs == {"reports": 5000}
    assert 1 <= len(progress) <= 20
    assert progress[-1].message == "report 4999"


@ON_MODULE_LOOP
async def test_a_flood_of_log_lines_is_capped_per_batch_with_a_note_of_what_was_dropped(dask):
    executor, recorder = dask
    work = WorkOrder(job_id="flood-1", process_id="seq", processor=SEQ, inputs={"lines": 3000})
    await executor.submit(work)
    assert isinstance(await recorder.outcome(work.job_id), Succeeded)
    lines = [e for e in recorder.of(work.job_id) if isinstance(e, Logged)]
    assert len(lines) < 3000
    assert any("log line(s) dropped" in e.line and e.level == "WARNING" for e in lines)


def test_capping_keeps_started_and_the_outcome_and_puts_the_note_before_the_outcome():
    tuning = WorkerTuning(max_lines_per_batch=2)
    now = utcnow()
    events = [
        Started(job_id="j", at=now),
        *(Logged(job_id="j", at=now, line=str(i)) for i in range(5)),
        Succeeded(job_id="j", at=now, outputs={}),
    ]
    capped = cap_lines(events, tuning)
    assert [type(e).__name__ for e in capped] == ["Started", "Logged", "Logged", "Logged", "Succeeded"]
    assert capped[3].line.startswith("3 log line(s) dropped")


class Report:
    def __init__(self, name: str, label: str, status: str = "RUNNING") -> None:
        self.name, self.options, self.status = name, {"cluster_name": label}, status


def test_a_gateway_cluster_is_chosen_by_label_then_by_instance_name():
    reports = [Report("b", "dpr"), Report("a", "dpr"), Report("c", "other"), Report("d", "dpr", "STOPPED")]
    assert choose(reports, "dpr", None, "cluster_name") == "a"
    assert choose(reports, "dpr", "b", "cluster_name") == "b"
    with pytest.raises(Unavailable, match="cluster_name='dpr' and name 'c'"):
        choose(reports, "dpr", "c", "cluster_name")


@ON_MODULE_LOOP
async def test_the_executor_knows_its_schedulers_web_address(dask, cluster):
    executor, _ = dask
    link = executor.dashboard_link()
    assert link is not None and link.startswith("http://127.0.0.1:")


@ON_MODULE_LOOP
async def test_an_unreachable_scheduler_is_reported_unavailable():
    with pytest.raises(Unavailable, match="dask scheduler unavailable"):
        await SchedulerSource("tcp://127.0.0.1:9", timeout=1).connect()


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans finished in this process (the in-process cluster's workers are threads of it)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process: no other test sets one
    return exporter


@ON_MODULE_LOOP
async def test_the_run_on_the_worker_is_a_span_in_the_trace_of_the_request_that_submitted_it(dask, spans):
    executor, recorder = dask
    work = WorkOrder(job_id="traced-1", process_id="chatty", processor=CHATTY, inputs={"reports": 1})
    with trace.get_tracer("test").start_as_current_span("POST /processes/chatty/execution") as request:
        await executor.submit(work)
    await recorder.outcome(work.job_id)
    # the span ends just after the outcome was sent
    finished = await async_wait_for(
        lambda: [s for s in spans.get_finished_spans() if s.name == "dpr.run chatty"], 30, "the run's span"
    )
    run = finished[0]
    assert run.context.trace_id == request.get_span_context().trace_id
    assert run.parent is not None and run.parent.span_id == request.get_span_context().span_id
    assert run.attributes["dpr.job_id"] == "traced-1"


@ON_MODULE_LOOP
async def test_a_placements_credentials_never_reach_the_task_while_the_runs_secrets_do(dask, cluster):
    executor, recorder = dask
    work = WorkOrder(
        job_id="placed-1",
        process_id="echo",
        processor=ECHO,
        inputs={"echo": "x", "pause": 2},
        secrets={"TOKEN": "run-secret-1234"},
        placement=Placement(cluster_label="elsewhere", credentials={"jupyter_token": "hub-token-5678"}),
    )
    await executor.submit(work)  # this executor reaches no other cluster: the job runs on its own
    await recorder.wait_for(work.job_id, Started)
    shipped = pickle.dumps(cluster.scheduler.tasks["dpr-job-placed-1"].run_spec)
    assert b"run-secret-1234" in shipped and b"hub-token-5678" not in shipped
    await executor.cancel(make_job(job_id=work.job_id))
    await recorder.outcome(work.job_id)  # let the worker's thread go before the cluster closes
