#!/usr/bin/env python3
"""Checks a spindle trace (design-notes/0011-trace.md): used by tests/trace/trace_test.cpp.

    check_trace.py TRACE.json [--html REPORT.html] [--expect PH:NAME:TID[:KEY=VALUE]]...
                   [--dropped yes|no]

Always: the file parses as JSON; every "B" has its "E" on the same (pid, tid), properly nested
and in time order; async "b"/"e" and flow "s"/"f" come in pairs; the "spindle" summary exists.
--expect: an event with phase PH and name NAME on worker TID ("*": any) and args KEY == VALUE
(when given) exists.
--dropped: whether the trace must say that events were dropped.
--html: the report embeds the same JSON document and no placeholder.
Exit status 0 when every check passes; otherwise 1 with the failures on stderr.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--html")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--dropped", choices=["yes", "no"])
    a = ap.parse_args()
    errors = []
    with open(a.trace, encoding="utf-8") as f:
        doc = json.load(f)
    events = doc["traceEvents"]
    stacks = {}
    last_ts = {}
    asyncs = {}
    flows = {}
    for e in events:
        ph = e["ph"]
        key = (e["pid"], e["tid"])
        if ph in ("B", "E"):
            if e["ts"] < last_ts.get(key, float("-inf")):
                errors.append("time goes back on %s at %r" % (key, e))
            last_ts[key] = e["ts"]
        if ph == "B":
            stacks.setdefault(key, []).append(e)
        elif ph == "E":
            st = stacks.get(key, [])
            if not st:
                errors.append("E without B on %s: %r" % (key, e))
                continue
            b = st.pop()
            if b["name"] != e["name"]:
                errors.append("E %r closes B %r on %s" % (e["name"], b["name"], key))
        elif ph in ("b", "e"):
            asyncs.setdefault((e["pid"], e["id"]), []).append(ph)
        elif ph in ("s", "f"):
            flows.setdefault((e["pid"], e["id"]), []).append(ph)
    for key, st in stacks.items():
        if st:
            errors.append("%d B without E on %s, first %r" % (len(st), key, st[0]))
    for key, phs in asyncs.items():
        if sorted(phs) != ["b", "e"]:
            errors.append("async %s: %r" % (key, phs))
    for key, phs in flows.items():
        if sorted(phs) != ["f", "s"]:
            errors.append("flow %s: %r" % (key, phs))
    procs = doc.get("spindle", {}).get("processes", [])
    if not procs:
        errors.append("no spindle summary")
    dropped = sum(p["dropped_events"] for p in procs)
    if doc.get("otherData", {}).get("dropped_events") != dropped:
        errors.append("otherData.dropped_events disagrees with the summary")
    if a.dropped == "yes" and dropped == 0:
        errors.append("the trace does not say that events were dropped")
    if a.dropped == "no" and dropped != 0:
        errors.append("%d events dropped" % dropped)
    for spec in a.expect:
        parts = spec.split(":")
        ph, name, tid = parts[0], parts[1], parts[2]
        kv = parts[3].split("=", 1) if len(parts) > 3 else None
        found = [e for e in events
                 if e["ph"] == ph and e.get("name") == name and tid in ("*", str(e["tid"])) and
                 (kv is None or str(e.get("args", {}).get(kv[0])) == kv[1])]
        if not found:
            near = sorted({(e["ph"], e.get("name"), e["tid"]) for e in events
                           if e.get("name") == name or e["ph"] == ph and ph not in "BEC"})
            errors.append("expected %s; events of that name or phase: %r" % (spec, near[:20]))
    if a.html:
        with open(a.html, encoding="utf-8") as f:
            html = f.read()
        marker = '<script type="application/json" id="trace-data">'
        at = html.find(marker)
        if at < 0 or "__SPINDLE_TRACE_DATA__" in html:
            errors.append("the report does not embed the trace")
        else:
            body = html[at + len(marker):html.find("</script>", at)]
            if json.loads(body) != doc:
                errors.append("the report's JSON differs from the trace file")
        if "http://" in html or "https://" in html or " src=" in html:
            errors.append("the report refers to something outside itself")
    for e in errors:
        print("check_trace: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
