#!/usr/bin/env python3
"""Merges spindle traces of several processes into one view (design-notes/0011-trace.md).

    python3 scripts/trace-merge.py OUT.json IN.json [IN.json ...]

Writes OUT.json (a Chrome trace with every process's tracks on one time axis: Perfetto,
chrome://tracing) and OUT.html (the report: every worker of every process in one lane list, the
concurrency and token graphs summed over the processes). The inputs are the files a pool writes
with PoolOptions::trace / SPINDLE_TRACE (use "%p" in the path for one file per process). The
processes must have run on one machine: their clocks (CLOCK_MONOTONIC) are compared as they are.
"""
import json
import os
import sys


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, inputs = argv[1], argv[2:]
    docs = []
    for path in inputs:
        with open(path, encoding="utf-8") as f:
            docs.append(json.load(f))
    procs = [p for d in docs for p in d["spindle"]["processes"]]
    t0 = min(p["start_ns"] for p in procs)
    events = []
    for d in docs:
        # A file's ts are microseconds since its own (first) process's start.
        shift = (d["spindle"]["processes"][0]["start_ns"] - t0) / 1000.0
        for e in d["traceEvents"]:
            if "ts" in e:
                e = dict(e)
                e["ts"] = round(e["ts"] + shift, 3)
            events.append(e)
    merged = {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"producer": "spindle trace-merge",
                      "dropped_events": sum(p["dropped_events"] for p in procs)},
        "spindle": {"version": 1, "processes": procs},
    }
    text = json.dumps(merged, separators=(",", ":")).replace("<", "\\u003c")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    template = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "trace",
                            "report.html")
    with open(template, encoding="utf-8") as f:
        html = f.read()
    marker = '"__SPINDLE_TRACE_DATA__"'
    if marker not in html:
        print("trace-merge: the report template has no data marker", file=sys.stderr)
        return 1
    html_out = out[:-5] + ".html" if out.endswith(".json") else out + ".html"
    with open(html_out, "w", encoding="utf-8") as f:
        f.write(html.replace(marker, text, 1))
    print("trace-merge: %d processes -> %s, %s" % (len(procs), out, html_out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
