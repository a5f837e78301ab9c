"""The MCP benchmark's accounting (the full run is `memoryd bench mcp`, minutes long)."""

from __future__ import annotations

from memoryd.bench.mcp_bench import summarise_round


def _agent(rem, rec, errors=0, ids=(), t=(100.0, 110.0)):
    return {"lat": {"remember": rem, "recall": rec}, "errors": errors, "error_samples": ["boom"] * errors,
            "ids": list(ids), "t_start": t[0], "t_end": t[1]}


def test_summary_counts_errors_lost_writes_and_throughput():
    results = [
        _agent([10.0, 20.0], [30.0], ids=["a", "b"], t=(100.0, 104.0)),
        _agent([40.0], [50.0], errors=1, ids=["c"], t=(101.0, 105.0)),
        {"fatal": "ConnectError: refused"},
    ]
    s = summarise_round(3, 3, results, lost=1)
    assert s["calls"] == 9 and s["completed_calls"] == 5
    assert s["errors"] == 1 + 3  # one failed call, and every call of the agent that never connected
    assert s["acknowledged_writes"] == 3 and s["lost_writes"] == 1
    assert s["p50_ms"] == 30.0 and s["remember_p50_ms"] == 20.0 and s["recall_p50_ms"] == 40.0
    assert s["wall_s"] == 5.0 and s["throughput_calls_per_s"] == 1.0
    assert "ConnectError: refused" in s["error_samples"]


def test_clean_run_has_no_error_samples():
    s = summarise_round(1, 2, [_agent([5.0], [7.0], ids=["x"])], lost=0)
    assert s["errors"] == 0 and s["lost_writes"] == 0 and "error_samples" not in s
