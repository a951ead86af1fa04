"""Tracing benchmark: span ingest, search and a 32,000-span trace, modelyard beside ``mlflow server``.

Benchmark only, not CI. Each server runs alone on a fresh store (see
``benchmarks/tracking/servers.py``: same launch, same CPU accounting of the
server's whole process tree), one after the other::

    python -m benchmarks.traces                       # modelyard and mlflow, SQLite
    python -m benchmarks.traces --only modelyard --backend postgresql
    python -m benchmarks.traces --quick               # small sizes
    python -m benchmarks.traces --workloads client,otlp --rounds 3 --checkout main=/work/main
                                                      # ingest only, 3 alternated rounds, medians

Workloads, each on every server:

- ``client``: the official mlflow 3.17.2 client traces a three-span chain
  (``@mlflow.trace`` + ``mlflow.start_span``) N times, synchronously: spans
  over OTLP, then the trace info. Spans/s of the whole round trip (bounded by
  the client) and server CPU per span.
- ``otlp``: OTLP protobuf batches posted straight to ``/v1/traces`` (1,000
  spans a request, 10 spans a trace): spans/s and server CPU per span.
- ``search``: ``traces/search`` pages of 100 over everything ingested, newest
  first and with a span filter (median of 20).
- ``sdk`` (``--sdk``, no server): ``my.start_span`` embedded, 1,000 traces of 10 spans into a
  fresh ``./.modelyard/``: spans/s until ``my.tracing.flush()`` returns.
- ``big``: one trace of 32,000 spans ingested in OTLP batches, then read with
  ``traces/get`` in one piece (median of 3), and for modelyard also as pages of
  1,000 spans (first page, and the whole trace page by page).
- ``scale`` (``--traces N``, modelyard only): N traces of 2 spans bulk-loaded
  through the store (in-process, batches of 5,000 traces, bypassing HTTP), then
  ``traces/search`` pages of 100 over HTTP, newest first and with the common
  filters (status, tag, name, timestamp range, span name, span attribute, text),
  median of 7 each (on PostgreSQL after an ``ANALYZE``, as autovacuum would run after such a
  load). ``python -m benchmarks.traces --traces 1000000``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.tracking.servers import SPECS, SYNC_ENV, Server, ServerSpec, Unavailable, launch


def otlp_batch(trace_ids: list[bytes], spans_per_trace: int, t0: int,
               randbytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """One OTLP export request: ``spans_per_trace`` spans (a root, the rest its children) of each trace id, span ids
    from ``randbytes`` (a seeded ``random.Random().randbytes`` makes the request reproducible)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for trace_id in trace_ids:
        root = randbytes(8)
        for i in range(spans_per_trace):
            sp = scope.spans.add()
            sp.trace_id = trace_id
            sp.span_id = root if i == 0 else randbytes(8)
            if i:
                sp.parent_span_id = root
            sp.name = "chain" if i == 0 else f"step-{i % 7}"
            sp.start_time_unix_nano = t0 + i * 1000
            sp.end_time_unix_nano = t0 + 5_000_000 + i * 1000
            sp.status.code = 1
            for key, value in (("mlflow.spanType", "LLM" if i % 3 == 0 else "TOOL"),
                               ("mlflow.spanInputs", '{"q": "what is the refund policy?"}'),
                               ("mlflow.spanOutputs", '"30 days"'), ("model", "tiny-1")):
                attr = sp.attributes.add()
                attr.key = key
                attr.value.string_value = value
    return bytes(request.SerializeToString())


def _experiment(http: httpx.Client, name: str) -> str:
    r = http.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    r.raise_for_status()
    return str(r.json()["experiment_id"])


def _measure(server: Server, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu0 = server.cpu() + server.db_cpu()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    return wall, server.cpu() + server.db_cpu() - cpu0, out


def traced_chain(tracking_uri: str, experiment: str) -> Callable[[str], str]:
    """A three-span chain traced by the official client (a chain, a retriever span, an LLM span)."""
    import mlflow
    from mlflow.entities import SpanType

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)

    @mlflow.trace(span_type=SpanType.LLM)
    def llm(q: str) -> str:
        return q.upper()

    @mlflow.trace(span_type=SpanType.CHAIN)
    def chain(q: str) -> str:
        with mlflow.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"q": q})
            span.set_outputs(["doc"])
        return llm(q)

    return chain


def client_ingest(server: Server, traces: int) -> dict[str, float]:
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    chain = traced_chain(server.url, f"bench-client-{time.time_ns()}")
    chain("warm-up")

    def run() -> None:
        for i in range(traces):
            chain(f"question {i}")

    wall, cpu, _ = _measure(server, run)
    spans = traces * 3
    return {"spans": spans, "spans_per_s": spans / wall, "server_cpu_us_per_span": cpu / spans * 1e6}


def otlp_ingest(server: Server, http: httpx.Client, exp: str, traces: int, spans_per_trace: int = 10,
                per_request: int = 1000) -> dict[str, float]:
    per_batch = max(1, per_request // spans_per_trace)
    t0 = time.time_ns() - 3_600_000_000_000
    bodies = [
        otlp_batch([os.urandom(16) for _ in range(per_batch)], spans_per_trace, t0 + b * 10_000_000)
        for b in range(max(1, traces // per_batch))
    ]
    headers = {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp}

    def run() -> None:
        for body in bodies:
            http.post("/v1/traces", content=body, headers=headers).raise_for_status()

    wall, cpu, _ = _measure(server, run)
    spans = len(bodies) * per_batch * spans_per_trace
    return {"spans": spans, "spans_per_s": spans / wall, "server_cpu_us_per_span": cpu / spans * 1e6}


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def search(http: httpx.Client, exp: str) -> dict[str, float]:
    loc = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]

    def page(filter_string: str | None = None) -> None:
        body: dict[str, Any] = {"locations": loc, "max_results": 100}
        if filter_string:
            body["filter"] = filter_string
        r = http.post("/api/3.0/mlflow/traces/search", json=body)
        r.raise_for_status()
        assert len(r.json().get("traces", [])) == 100, r.text[:300]

    return {"newest_page_ms": _median_ms(page, 20),
            "span_filter_page_ms": _median_ms(lambda: page("span.name = 'step-3'"), 20)}


def big_trace(server: Server, http: httpx.Client, exp: str, spans: int, ours: bool) -> dict[str, float]:
    trace_id = os.urandom(16)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    whole = ExportTraceServiceRequest()
    whole.ParseFromString(otlp_batch([trace_id], spans, time.time_ns() - 60_000_000_000))
    all_spans = list(whole.resource_spans[0].scope_spans[0].spans)
    headers = {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp}
    for i in range(0, len(all_spans), 2000):
        req = ExportTraceServiceRequest()
        req.resource_spans.add().scope_spans.add().spans.extend(all_spans[i:i + 2000])
        http.post("/v1/traces", content=req.SerializeToString(), headers=headers).raise_for_status()
    tid = "tr-" + trace_id.hex()

    def get_all() -> None:
        r = http.get("/api/3.0/mlflow/traces/get", params={"trace_id": tid, "allow_partial": "true"})
        r.raise_for_status()
        assert len(r.json()["trace"]["spans"]) == spans

    out = {"get_whole_ms": _median_ms(get_all, 3)}
    if ours:
        def first_page() -> None:
            http.get("/api/3.0/mlflow/traces/get", params={"trace_id": tid, "max_spans": 1000}).raise_for_status()

        def every_page() -> None:
            token, n = None, 0
            for _ in range(spans // 1000 + 2):
                params: dict[str, Any] = {"trace_id": tid, "max_spans": 1000}
                if token:
                    params["page_token"] = token
                body = http.get("/api/3.0/mlflow/traces/get", params=params).json()
                n += len(body["trace"]["spans"])
                token = body.get("next_page_token")
                if not token:
                    break
            assert n == spans

        out["first_page_1000_ms"] = _median_ms(first_page, 5)
        out["all_pages_1000_ms"] = _median_ms(every_page, 3)
    return out


def sdk_embedded(traces: int = 1000) -> dict[str, float]:
    """Our SDK, embedded: spans recorded and stored (background batches) per second."""
    import modelyard as my

    folder = tempfile.mkdtemp(prefix="bench-traces-sdk-")
    old = os.getcwd()
    os.chdir(folder)
    try:
        my.set_tracking_uri(None)
        my.set_experiment("sdk-bench")

        def one(i: int) -> None:
            with my.start_span("chain", span_type="CHAIN") as root:
                root.set_inputs({"q": f"question {i}"})
                for j in range(9):
                    with my.start_span(f"step-{j}", span_type="TOOL") as span:
                        span.set_attribute("model", "tiny-1")
                root.set_outputs("ok")

        one(-1)
        my.tracing.flush()
        t0 = time.perf_counter()
        for i in range(traces):
            one(i)
        my.tracing.flush()
        wall = time.perf_counter() - t0
    finally:
        os.chdir(old)
    return {"spans": traces * 10, "spans_per_s": traces * 10 / wall}


# (label, filter) pairs of the scale search; the loaded data makes their selectivity known:
# 1% ERROR, tag customer one of 1,000 values, 10 trace names (one of them on 0.1%), a 'rare-tool'
# child span on 0.1% of traces, span attribute model one of 5 values.
SCALE_FILTERS: list[tuple[str, str | None]] = [
    ("newest first", None),
    ("status = ERROR (1%)", "trace.status = 'ERROR'"),
    ("tag customer = c-17 (0.1%)", "tags.customer = 'c-17'"),
    ("name = chain-3 (9.9%)", "trace.name = 'chain-3'"),
    ("name = rare (0.1%)", "trace.name = 'rare'"),
    ("timestamp_ms in 1 hour (0.14%)", None),  # filled with the loaded times
    ("span.name = step-3 (20%)", "span.name = 'step-3'"),
    ("span.name = rare-tool (0.1%)", "span.name = 'rare-tool'"),
    ("span.attributes.model = tiny-4 (20%)", "span.attributes.model = 'tiny-4'"),
    ("name LIKE chain-1% (prefix)", "trace.name LIKE 'chain-1%'"),
    ("tag customer LIKE c-17% (prefix)", "tags.customer LIKE 'c-17%'"),
    ("span.name LIKE rare% (prefix)", "span.name LIKE 'rare%'"),
    ("status = ERROR, 2nd page (keyset)", "trace.status = 'ERROR'"),
    ("span.name LIKE nothing% (no match)", "span.name LIKE 'nothing%'"),
    ("tag customer = nobody (no match)", "tags.customer = 'nobody'"),
    # trace.text (every span's JSON): a trigram index on PostgreSQL (migration 0023); on SQLite a scan
    # of every span of the experiment's traces until a page is found.
    ("trace.text LIKE %nothing% (no match; SQLite: a scan)", "trace.text LIKE '%nothing%'"),
    ("trace.text LIKE %question 4242% (rare; SQLite: a scan)", "trace.text LIKE '%question 4242%'"),
    ("trace.text LIKE %30 days% (every trace)", "trace.text LIKE '%30 days%'"),
    ("span.content ILIKE %TINY-4% (20%)", "span.content ILIKE '%TINY-4%'"),
    ("tag customer ILIKE %-17% (infix)", "tags.customer ILIKE '%-17%'"),
]
SCALE_SPAN_MS = 30 * 24 * 3600 * 1000  # the traces' start times spread over 30 days


def bulk_load(store_uri: str, experiment_id: int, traces: int, batch: int = 5000) -> tuple[float, int]:
    """Load ``traces`` traces of two spans each through the store in batches; (seconds, first start ms)."""
    from modelyard.entities.traces import Span
    from modelyard.store import TrackingStore

    store = TrackingStore(store_uri, sqlite_synchronous="OFF")
    t_end = time.time_ns() - 3_600_000_000_000
    t_first = t_end - SCALE_SPAN_MS * 1_000_000
    step = SCALE_SPAN_MS * 1_000_000 // max(traces, 1)
    t0 = time.perf_counter()
    try:
        for b in range(0, traces, batch):
            spans, fixed = [], {}
            for i in range(b, min(traces, b + batch)):
                hex_id = f"{i:032x}"
                tid = "tr-" + hex_id
                start = t_first + i * step
                root, child = f"{2 * i:016x}", f"{2 * i + 1:016x}"
                name = "rare" if i % 1000 == 7 else f"chain-{i % 9}"
                status = "ERROR" if i % 100 == 3 else "OK"
                spans.append(Span(tid, root, None, name, "CHAIN", status, None, start, start + 5_000_000,
                                  {"mlflow.spanType": "CHAIN", "mlflow.spanInputs": f'{{"q": "question {i}"}}',
                                   "mlflow.spanOutputs": '"30 days"'}, otel_trace_id=hex_id))
                spans.append(Span(tid, child, root, "rare-tool" if i % 1000 == 11 else f"step-{i % 5}", "LLM",
                                  "OK", None, start + 1000, start + 4_000_000,
                                  {"mlflow.spanType": "LLM", "model": f"tiny-{i % 5}"}, otel_trace_id=hex_id))
                fixed[tid] = {"customer": f"c-{i % 1000}", "mlflow.traceName": name}
            with store.db.fast_write() as tx:
                store.traces.ingest(tx, experiment_id, spans, fixed)
            if b and b % 100_000 == 0:
                print(f"    loaded {b:,} traces, {time.perf_counter() - t0:.0f} s", flush=True)
        if not store.db.is_sqlite:  # what autovacuum does after a bulk load, at once: the planner's statistics
            with store.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        store.close()
    return time.perf_counter() - t0, t_first // 1_000_000


def scale_search(server: Server, http: httpx.Client, traces: int, repeat: int = 7) -> dict[str, Any]:
    """Bulk-load ``traces`` traces, then time a page of 100 for each of :data:`SCALE_FILTERS`."""
    exp = _experiment(http, f"bench-scale-{time.time_ns()}")
    load_s, first_ms = bulk_load(server.store_uri, int(exp), traces)
    print(f"  loaded {traces:,} traces in {load_s:.0f} s", flush=True)
    return {"traces": traces, "load_s": load_s, **scale_pages(http, exp, first_ms, repeat)}


def scale_pages(http: httpx.Client, exp: str, first_ms: int, repeat: int = 7) -> dict[str, Any]:
    """A page of 100 for each of :data:`SCALE_FILTERS` over the traces :func:`bulk_load` loaded (median ms)."""
    mid = first_ms + SCALE_SPAN_MS // 2
    loc = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    out: dict[str, Any] = {}
    for label, flt in SCALE_FILTERS:
        if label.startswith("timestamp_ms"):
            flt = f"trace.timestamp_ms >= {mid} AND trace.timestamp_ms < {mid + 3_600_000}"
        body: dict[str, Any] = {"locations": loc, "max_results": 100}
        if flt:
            body["filter"] = flt
        if "2nd page" in label:
            first = http.post("/api/3.0/mlflow/traces/search", json=body)
            first.raise_for_status()
            body["page_token"] = first.json()["next_page_token"]
        got: list[int] = []

        def page(body: dict[str, Any] = body, got: list[int] = got) -> None:
            r = http.post("/api/3.0/mlflow/traces/search", json=body)
            r.raise_for_status()
            got.append(len(r.json().get("traces", [])))

        ms = _median_ms(page, min(3, repeat) if "a scan" in label else repeat)
        out[label] = {"ms": ms, "rows": got[-1]}
        print(f"    {label}: {ms:.1f} ms ({got[-1]} traces)", flush=True)
    return out


def run_server(name: str, args: argparse.Namespace, base: Path, specs: dict[str, ServerSpec]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    workloads = set(args.workloads.split(","))
    with launch(specs[name], args.backend, base / name, args.pg) as server:
        with httpx.Client(base_url=server.url, timeout=300) as http:
            if args.traces:
                results["scale"] = scale_search(server, http, args.traces)
                return results
            if "client" in workloads:
                results["client"] = client_ingest(server, args.client_traces)
                print(f"  {name} client: {results['client']}", flush=True)
            exp = _experiment(http, f"bench-otlp-{time.time_ns()}")
            if "otlp" in workloads:
                results["otlp"] = otlp_ingest(server, http, exp, args.otlp_traces)
                print(f"  {name} otlp: {results['otlp']}", flush=True)
            if "search" in workloads:
                results["search"] = search(http, exp)
                print(f"  {name} search over {args.otlp_traces} traces: {results['search']}", flush=True)
            if "big" in workloads:
                big_exp = _experiment(http, f"bench-big-{time.time_ns()}")
                results["big"] = big_trace(server, http, big_exp, args.big_spans, ours=name.startswith("modelyard"))
                print(f"  {name} {args.big_spans}-span trace: {results['big']}", flush=True)
    return results


def checkout_spec(name: str, checkout: Path) -> ServerSpec:
    """``modelyard server`` run from another checkout (its code first on PYTHONPATH), as ``modelyard`` is."""
    return dataclasses.replace(
        SPECS["modelyard"], name=name,
        env=lambda: {"PYTHONPATH": str(checkout), SYNC_ENV: "FULL"})


def _medians(rounds: list[dict[str, Any]], names: list[str]) -> None:
    """Median server CPU per span of each ingest workload over the rounds, and MLflow's over each server's."""
    for key in ("client", "otlp"):
        cpu = {name: statistics.median(r[name][key]["server_cpu_us_per_span"] for r in rounds)
               for name in names if all(key in r.get(name, {}) for r in rounds)}
        if not cpu:
            continue
        print(f"{key}: median server CPU per span over {len(rounds)} rounds: "
              + ", ".join(f"{name} {us:.0f} us" for name, us in cpu.items()), flush=True)
        if "mlflow" in cpu:
            for name, us in cpu.items():
                if name != "mlflow":
                    print(f"  {name}: {cpu['mlflow'] / max(us, 1e-9):.1f}x less CPU per span than mlflow", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="modelyard,mlflow", help="servers, comma-separated")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--client-traces", type=int, default=300)
    parser.add_argument("--otlp-traces", type=int, default=10_000)
    parser.add_argument("--big-spans", type=int, default=32_000)
    parser.add_argument("--workloads", default="client,otlp,search,big", help="comma-separated: client,otlp,search,big")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every server this many times, alternating their order; print the median CPU per span")
    parser.add_argument("--checkout", action="append", default=[],
                        help="NAME=PATH: also a modelyard server from that checkout (repeat), e.g. main=/work/main")
    parser.add_argument("--sdk", action="store_true", help="also our SDK embedded (no server)")
    parser.add_argument("--traces", type=int, default=0,
                        help="instead of the rest: search over this many bulk-loaded traces (modelyard only)")
    args = parser.parse_args(argv)
    if args.quick:
        args.client_traces, args.otlp_traces, args.big_spans = 50, 1000, 5000
    specs = dict(SPECS)
    names = list(filter(None, args.only.split(",")))
    for name, _, path in (c.partition("=") for c in args.checkout):
        specs[name] = checkout_spec(name, Path(path).resolve())
        names.append(name)
    if args.traces:
        names = [n for n in names if specs[n].kind == "modelyard"]
    base = Path(tempfile.mkdtemp(prefix="bench-traces-"))
    summary: dict[str, Any] = {}
    if args.sdk:
        summary["sdk"] = sdk_embedded()
        print(f"modelyard SDK embedded: {summary['sdk']}", flush=True)
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        done: dict[str, Any] = {}
        for name in names if r % 2 == 0 else names[::-1]:
            print(f"{name} on {args.backend}" + (f", round {r + 1}" if args.rounds > 1 else "")
                  + f" (load average {os.getloadavg()[0]:.1f})", flush=True)
            try:
                done[name] = run_server(name, args, base / f"round-{r}", specs)
            except Unavailable as exc:
                print(f"  skipped: {exc}", flush=True)
        rounds.append(done)
    summary.update(rounds[-1])
    if args.rounds > 1:
        _medians(rounds, names)
    elif "modelyard" in summary and "mlflow" in summary:
        for key in ("client", "otlp"):
            if key not in summary["modelyard"] or key not in summary["mlflow"]:
                continue
            ours, theirs = summary["modelyard"][key], summary["mlflow"][key]
            print(f"{key}: server CPU per span {ours['server_cpu_us_per_span']:.0f} us vs "
                  f"{theirs['server_cpu_us_per_span']:.0f} us "
                  f"({theirs['server_cpu_us_per_span'] / max(ours['server_cpu_us_per_span'], 1e-9):.1f}x less)")


if __name__ == "__main__":
    main()
