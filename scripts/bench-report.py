#!/usr/bin/env python3
"""Tables and chart of scripts/bench.sh's JSON lines (python3, standard library only).

  bench-report.py table FILE              one table per workload (exit 3: systems disagree)
  bench-report.py processes FILE          --processes mode: per workload and thread count, one
                                          row per process, then a summary line per system
                                          (exit 3: processes disagree; 1: a result not checked)
  bench-report.py levels FILE TOPO PLACE  spindle's steals by victim level (--topology)
  bench-report.py svg FILE OUT.svg        chart of the ratios to rayon (axis fitted to the data,
                                          min-max whiskers, a caption with commit, machine, date)
  bench-report.py meta -                  the run's {"meta":...} line (commit, machine, date)

FILE holds one flat JSON object per line (the bench programs' result lines; other lines are
skipped), and may start with bench.sh's {"meta":...} line, which only the chart reads. scripts/bench.sh runs the programs and calls this for its output.
"""

import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys


def load(path, with_meta=False):
    """The result lines of FILE: (parsed object, raw line) pairs; the {"meta":...} line only on
    request."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not re.match(r"^[ \t]*\{", line):
                continue
            line = line.rstrip("\n")
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or ("meta" in obj and not with_meta):
                continue
            rows.append((obj, line))
    return rows


def num(obj, key):
    """A numeric field, or None."""
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def text(obj, key):
    v = obj.get(key)
    return v if isinstance(v, str) else ""


def result_of(line):
    """The "result" field's digits as written (64-bit values stay exact), or "?"."""
    m = re.search(r'"result":([0-9]+)', line)
    return m.group(1) if m else "?"


def checked(line):
    return '"checked":true' in line


def flagged(line):
    return '"flagged":true' in line


def flag_letters(obj):
    """flag_reasons "capacity+share" -> "cs"; not flagged -> "-"."""
    why = text(obj, "flag_reasons")
    if why == "":
        return "-"
    return "".join(p[:1] for p in why.split("+"))


def ms(x):
    if x is None:
        return "-"
    return "%.4f" % (x * 1000) if x < 0.01 else "%.2f" % (x * 1000)


def f2(x):
    return "-" if x is None else "%.2f" % x


def plain(x):
    """A number as awk prints it: integers without a decimal point, else %.6g."""
    if x is None:
        return ""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    if isinstance(x, int):
        return str(x)
    return "%.6g" % x


# ------------------------------------------------------------------------------------------------
# One table per workload.

TABLE_RANK = {"serial-c++": 0, "serial-rust": 1, "spindle": 2, "rayon": 3, "rayon@spindle": 4,
              "tbb": 5, "omp": 6}
TABLE_FMT = "%-7s %-12s %10s %21s %9s %8s %9s %8s %8s %5s %7s %6s %5s %5s %4s\n"


def print_table(path, out):
    rows = []
    serial_fig, rayon_fig, compiler = {}, {}, {}
    workloads = []
    for obj, line in load(path):
        w, lang = text(obj, "workload"), text(obj, "lang")
        sys_ = text(obj, "system")
        if sys_ == "serial":
            sys_ = "serial-rust" if lang == "rust" else ("serial-c++" if lang == "cpp" else "serial")
        r = {
            "w": w, "s": sys_, "lang": lang, "t": num(obj, "threads") or 0,
            "med": num(obj, "median_s"), "min": num(obj, "min_s"), "max": num(obj, "max_s"),
            "cpu": num(obj, "cpu_median_s"), "n": num(obj, "n"), "rss": num(obj, "peak_rss_kb"),
            "reps": num(obj, "reps"), "spd": num(obj, "speedup"), "cap": num(obj, "capacity"),
            "eff": num(obj, "efficiency"), "fr": flag_letters(obj), "res": result_of(line),
            "chk": "yes" if checked(line) else "NO",
        }
        # idle: the ratios compare CPU time (the wall time is the fixed interval); a missing
        # figure counts as 0, as it did in awk
        r["fig"] = (r["cpu"] if w == "idle" else r["med"]) or 0
        if sys_.startswith("serial"):
            serial_fig[(w, lang)] = r["fig"]
        if sys_ == "rayon":
            rayon_fig[(w, r["t"])] = r["fig"]
        comp = text(obj, "compiler")
        if comp != "" and lang not in compiler:
            compiler[lang] = comp
        if w not in workloads:
            workloads.append(w)
        rows.append(r)
    if not rows:
        print("bench.sh: no results to tabulate", file=sys.stderr)
        return 1
    starved = differ = False
    for w in workloads:
        mine = [r for r in rows if r["w"] == w]
        out.write("\n== %s (n=%s) ==\n" % (w, plain(mine[0]["n"])))
        out.write(TABLE_FMT % ("threads", "system", "median ms", "min-max ms", "x serial",
                               "x rayon", "cpu s", "cpu/wall", "peak MB", "reps", "checked",
                               "x 1w", "cap", "eff", "flag"))
        # rows: serial first, then by thread count, systems in a fixed order
        key = lambda r: 0 if r["s"].startswith("serial") else r["t"]
        results = set()
        for k in sorted(set(key(r) for r in mine)):
            for rank in range(8):
                for r in mine:
                    if TABLE_RANK.get(r["s"], 7) != rank or key(r) != k:
                        continue
                    serial = r["s"].startswith("serial")
                    xs = xr = cw = "-"
                    sf = serial_fig.get((w, r["lang"]))
                    if sf is not None and sf > 0 and not serial and w != "wakeup":
                        xs = "%.2f" % (r["fig"] / sf)
                    rf = rayon_fig.get((w, r["t"]))
                    if not serial and rf is not None and rf > 0:
                        xr = "%.2f" % (r["fig"] / rf)
                    if r["med"] and r["med"] > 0 and r["cpu"] is not None:
                        cw = "%.2f" % (r["cpu"] / r["med"])
                        if w not in ("idle", "wakeup") and r["cpu"] / r["med"] < 0.8 * r["t"]:
                            cw += "*"
                            starved = True
                    if w in ("idle", "wakeup"):
                        cw = "-"
                    out.write(TABLE_FMT % (
                        plain(r["t"]), r["s"], ms(r["med"]), ms(r["min"]) + "-" + ms(r["max"]),
                        xs, xr, "-" if r["cpu"] is None else "%.4f" % r["cpu"], cw,
                        "%.1f" % ((r["rss"] or 0) / 1024), plain(r["reps"]), r["chk"],
                        f2(r["spd"]), f2(r["cap"]), f2(r["eff"]), r["fr"]))
                    results.add(r["res"])
        if w == "idle":
            out.write("idle: cpu s = CPU burnt by the whole process over the ~n x 10 ms rep (one "
                      "empty job every 10 ms); x serial and x rayon compare cpu s.\n")
        elif w == "wakeup":
            out.write("wakeup: median = mean submit->start latency of one job sent to an idle "
                      "pool (10 ms idle before each).\n")
        elif len(results) > 1:
            out.write("WARNING: %s: the systems report different results\n" % w)
            differ = True
        else:
            out.write("results: every system reports the same result.\n")
    out.write("""
x serial = median / median of the serial version in the same language (T_p/T_S: C++ for spindle, tbb, omp; Rust for rayon).
x rayon  = median / rayon median at the same thread count (< 1: faster than rayon).
cpu s    = median process CPU time (user+sys, all threads) per rep; cpu/wall ~ threads busy (spinning shows here).
peak MB  = peak RSS of the process (getrusage ru_maxrss) after that system ran; reps = timed reps (--max-time may cut them to 3).
""")
    if starved:
        out.write("*        cpu/wall well below the thread count: starved by other load, or not "
                  "parallel (e.g. a serial partition).\n")
    out.write("""x 1w     = speed-up: median of a 1-worker pool of the same system, its reps alternating with these in the same process, / median.
cap      = capacity: CPUs' worth of work the machine gave the process (a fixed kernel on T pinned threads at once vs alone; median of
           the probes taken between the reps); eff = x 1w / cap (bench/README.md, "Capacity and efficiency").
flag     = why the process is flagged: c = cap < 0.9 x threads, s = the probe threads' CPU share < 0.9 (preempted by other
           processes or the host); - = not flagged. A flagged row measured the machine, not the pool.
""")
    for lang in sorted(compiler):
        out.write("compiler (%s): %s\n" % (lang, compiler[lang]))
    return 3 if differ else 0


# ------------------------------------------------------------------------------------------------
# --processes N: one table per workload and thread count, one row per process index, the systems
# side by side (process k of every system ran one after the other, so they saw the same machine),
# then a summary line per (workload, system, threads).

PROC_RANK = {"spindle": 0, "rayon": 1, "rayon@spindle": 2, "tbb": 3, "omp": 4}


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return 0
    return v[(n - 1) // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def print_process_tables(path, out):
    keys, key_n, systems, nproc, cell = [], {}, {}, {}, {}
    results = {}
    bad = differ = False
    for obj, line in load(path):
        w, t, p = text(obj, "workload"), num(obj, "threads") or 0, num(obj, "process") or 0
        s = text(obj, "system")
        if s == "serial":
            s = "serial-" + text(obj, "lang")
        key = (w, t)
        if key not in key_n:
            keys.append(key)
            key_n[key] = num(obj, "n")
            systems[key] = []
            nproc[key] = 0
        if s not in systems[key]:
            systems[key].append(s)
        nproc[key] = max(nproc[key], p)
        med, cpu = num(obj, "median_s"), num(obj, "cpu_median_s")
        cell[(key, s, p)] = {
            "med": med, "base": num(obj, "base_median_s"), "spd": num(obj, "speedup"),
            "cap": num(obj, "capacity"), "eff": num(obj, "efficiency"),
            "share": num(obj, "probe_cpu_share"),
            "cw": cpu / med if med and med > 0 and cpu is not None else None,
            "fr": flag_letters(obj), "flagged": flagged(line),
        }
        if not checked(line):
            bad = True
        if result_of(line) != "?":
            results.setdefault(w, set()).add(result_of(line))
    if not keys:
        print("bench.sh: no results to tabulate", file=sys.stderr)
        return 1
    cols = " | %9s %9s %5s %8s %5s %5s %5s %4s"
    for key in keys:
        w, t = key
        # systems in a fixed order (the same exchange sort as before, ties included)
        sy = list(systems[key])
        for a in range(len(sy)):
            for b in range(a + 1, len(sy)):
                if PROC_RANK.get(sy[b], 5) < PROC_RANK.get(sy[a], 5):
                    sy[a], sy[b] = sy[b], sy[a]
        out.write("\n== %s (n=%s), %d threads, %d processes ==\n" % (w, plain(key_n[key]), t,
                                                                       nproc[key]))
        out.write("%-5s" % "proc" + "".join(" | %-54s" % s for s in sy) + "\n")
        out.write("%-5s" % "" + "".join(cols % ("median ms", "1w ms", "x 1w", "cpu/wall", "cap",
                                                "share", "eff", "flag") for _ in sy) + "\n")
        for p in range(1, nproc[key] + 1):
            row = "%-5d" % p
            for s in sy:
                c = cell.get((key, s, p))
                if c is None:
                    row += " | %-54s" % "(no result)"
                    continue
                row += cols % (ms(c["med"]), ms(c["base"]), f2(c["spd"]), f2(c["cw"]),
                               f2(c["cap"]), f2(c["share"]), f2(c["eff"]), c["fr"])
            out.write(row + "\n")
        for s in sy:
            have = [cell[(key, s, p)] for p in range(1, nproc[key] + 1) if (key, s, p) in cell]
            meds = [c["med"] or 0 for c in have]
            nf = sum(1 for c in have if c["flagged"])
            caps = [c["cap"] for c in have if c["cap"] is not None]
            effs = [c["eff"] for c in have if c["eff"] is not None]
            ueffs = [c["eff"] for c in have if c["eff"] is not None and not c["flagged"]]
            head = "%s %s %d threads: " % (w, s, t)
            tail = "median of medians %s ms; %d of %d processes flagged" % (ms(median(meds)), nf,
                                                                             len(have))
            if effs:
                line = head + ("efficiency min %.2f, median %.2f, %d of %d processes below 0.90; "
                               "capacity median %.2f; " % (min(effs), median(effs),
                                                           sum(1 for e in effs if e < 0.9),
                                                           len(effs), median(caps))) + tail
                if nf > 0 and ueffs:
                    line += "; unflagged: efficiency min %.2f, median %.2f, %d of %d below 0.90" % (
                        min(ueffs), median(ueffs), sum(1 for e in ueffs if e < 0.9), len(ueffs))
            elif caps:
                line = head + ("no efficiency (no 1-worker reps in the process); capacity median "
                               "%.2f; " % median(caps)) + tail
            else:
                line = head + tail
            out.write(line + "\n")
        if len(results.get(w, ())) > 1:
            out.write("WARNING: %s: the processes report different results\n" % w)
            differ = True
    out.write("""
median ms = the process's median over its timed reps at that thread count; 1w ms = the median of the 1-worker pool of the same
            system whose reps alternated with those in the same process; x 1w = speed-up = 1w ms / median ms.
cpu/wall  = median process CPU time / median wall time of the T-worker reps (~ threads busy; spinning counts).
cap       = capacity: CPUs' worth of work the machine gave the process (a fixed kernel on T pinned threads at once vs alone;
            median of the probes taken between the reps); eff = x 1w / cap.
share     = the probe threads' CPU time / wall time (< 1: preempted, by other processes or the host).
flag      = why the process is flagged: c = cap < 0.9 x threads, s = share < 0.9; - = not flagged.
            A flagged process measured the machine, not the pool (bench/README.md, "Capacity and efficiency").
""")
    if differ:
        return 3
    return 1 if bad else 0


# ------------------------------------------------------------------------------------------------
# Steals by victim level (--topology / --placement): one row per spindle run, the timed reps'
# successful / tried steals at each level, nearest first.

LEVELS = ("smt", "cache", "node", "remote", "spare")


def print_levels_table(path, topo, place, out):
    out.write("\n== spindle steals by victim level (ok/tried over the timed reps), topology \"%s\", "
              "placement %s ==\n" % (topo, place))
    out.write("%-12s %7s %15s %15s %15s %17s %13s %10s\n" % ("workload", "threads", "smt", "cache",
                                                            "node", "remote", "spare",
                                                            "remote %ok"))
    for obj, line in load(path):
        if '"steals_ok_smt"' not in line or text(obj, "system") != "spindle":
            continue
        # the counters sit in the "stats" object of a spindle line
        st = obj.get("stats") if isinstance(obj.get("stats"), dict) else obj
        ok = [num(st, "steals_ok_" + lv) for lv in LEVELS]
        tried = [num(st, "steals_tried_" + lv) for lv in LEVELS]
        cells = ["%s/%s" % (plain(o), plain(tr)) for o, tr in zip(ok, tried)]
        total = sum(o or 0 for o in ok)
        pct = 100 * (ok[3] or 0) / total if total > 0 else 0
        out.write("%-12s %7d" % (text(obj, "workload"), num(obj, "threads") or 0))
        out.write(" %15s %15s %15s %17s %13s" % tuple(cells))
        out.write(" %9.1f%%\n" % pct)
    return 0


# ------------------------------------------------------------------------------------------------
# Run metadata: one line {"meta":"bench.sh",...} that bench.sh writes first into the JSON lines, so
# that a chart drawn later (--table FILE --svg) still names the run's commit, machine and date.

def run_meta():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    meta = {"meta": "bench.sh", "commit": "unknown", "dirty": False}

    def git(*args):
        return subprocess.run(["git", "-C", repo] + list(args), capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        meta["commit"] = git("rev-parse", "--short", "HEAD")
        meta["dirty"] = git("status", "--porcelain", "--untracked-files=no") != ""
    except (OSError, subprocess.CalledProcessError):
        pass
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    meta["cpu_model"] = model or platform.processor() or platform.machine()
    meta["cpus"] = os.cpu_count() or 0
    try:
        meta["cpus_allowed"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        meta["cpus_allowed"] = meta["cpus"]
    meta["kernel"] = platform.system() + " " + platform.release()
    meta["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return meta


def caption(meta):
    commit = meta.get("commit", "unknown") + (" (dirty)" if meta.get("dirty") else "")
    cpus = "%d CPUs" % meta.get("cpus", 0)
    if meta.get("cpus_allowed", meta.get("cpus")) != meta.get("cpus"):
        cpus += " (%d allowed)" % meta["cpus_allowed"]
    return "commit %s; %s, %s, %s; %s" % (commit, meta.get("cpu_model", "?"), cpus,
                                          meta.get("kernel", "?"), meta.get("date", "?"))


def xml(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ------------------------------------------------------------------------------------------------
# SVG chart: one row of bars per workload and thread count, one bar per system other than rayon,
# from the rayon line (1x) to median / rayon median, on a log axis fitted to the data: left of
# the line = faster than rayon. Each bar has a whisker from its min to its max rep (over the rayon
# median), and a gray band behind the row shows rayon's own min-max. idle compares CPU time.

COLOR = {"spindle": "#1f77b4", "tbb": "#2ca02c", "omp": "#d62728", "rayon@spindle": "#ff7f0e"}
# Tick mantissas, sparsest first; the axis takes the densest set that gives at most 10 ticks.
TICK_SETS = ([1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8],
             [m / 10 for m in range(10, 20)] + [2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9],
             [m / 100 for m in range(100, 200, 2)] + [m / 10 for m in range(20, 100)])


def axis_ticks(lo, hi):
    """Tick values (ratios) inside 10^lo .. 10^hi, always with 1."""
    best = [1.0]
    for mantissas in TICK_SETS:
        ticks = sorted(set(round(m * 10.0 ** e, 6) for e in range(math.floor(lo) - 1,
                                                                   math.ceil(hi) + 1)
                           for m in mantissas))
        ticks = [t for t in ticks if lo <= math.log10(t) <= hi]
        if len(ticks) > 10:
            break
        if len(ticks) >= len(best):
            best = ticks
    return sorted(set(best) | {1.0})


def write_svg(path, svg_path):
    fig, spread, workloads, threads, systems = {}, {}, [], [], []
    meta = None
    for obj, _ in load(path, with_meta=True):
        if "meta" in obj:
            meta = obj
            continue
        w, s, t = text(obj, "workload"), text(obj, "system"), num(obj, "threads") or 0
        if s == "serial":
            continue
        if w == "idle":  # idle: compare the CPU burnt, not the wall time
            m = num(obj, "cpu_median_s")
            v = [x for x in obj.get("cpu_s") or [] if isinstance(x, (int, float))]
            lo_v, hi_v = (min(v), max(v)) if v else (m, m)
        else:
            m, lo_v, hi_v = num(obj, "median_s"), num(obj, "min_s"), num(obj, "max_s")
        fig[(w, s, t)] = m
        spread[(w, s, t)] = (lo_v, hi_v)
        if w not in workloads:
            workloads.append(w)
        if t not in threads:
            threads.append(t)
        if s not in systems and s != "rayon":
            systems.append(s)
    threads.sort()
    if meta is None:
        meta = run_meta()
        meta["date"] += " (drawn; the JSON lines do not record the run)"

    # The ratios to draw: bars, whisker ends, and rayon's own spread; the axis spans them all.
    bars = {}
    for (w, s, t), m in fig.items():
        base = fig.get((w, "rayon", t))
        if base is None or not base > 0 or m is None or not m > 0:
            continue
        lo_v, hi_v = spread[(w, s, t)]
        lo_r = lo_v / base if lo_v and lo_v > 0 else m / base
        hi_r = hi_v / base if hi_v and hi_v > 0 else m / base
        bars[(w, s, t)] = (m / base, lo_r, hi_r)
    logs = [0.0] + [math.log10(v) for b in bars.values() for v in b]
    lo, hi = min(logs), max(logs)
    margin = max(0.08 * (hi - lo), 0.02)
    lo, hi = lo - margin, hi + margin

    x0, pw, bh, y = 190, 600, 9, 60
    ns = len(systems)

    def xpos(r):
        l = min(max(math.log10(r), lo), hi)
        return x0 + (l - lo) / (hi - lo) * pw

    height = 90 + len(workloads) * len(threads) * (ns * bh + 8) + 72
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="11">' % (x0 + pw + 40, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="14" font-weight="bold">Median time relative to rayon '
         '(log scale; left of the line = faster than rayon; idle: CPU time)</text>']
    for tv in axis_ticks(lo, hi):
        xx = xpos(tv)
        o.append('<line x1="%.1f" y1="40" x2="%.1f" y2="%d" stroke="%s"/>'
                 % (xx, xx, height - 72, "black" if tv == 1 else "#ddd"))
        o.append('<text x="%.1f" y="36" text-anchor="middle">%gx</text>' % (xx, tv))
    for w in workloads:
        for t in threads:
            o.append('<text x="%d" y="%d" text-anchor="end">%s, %d thr</text>'
                     % (x0 - 6, y + ns * bh / 2 + 4, w, t))
            base = fig.get((w, "rayon", t))
            rs = spread.get((w, "rayon", t))
            if base and base > 0 and rs and rs[0] and rs[1] and ns > 0:
                xl, xr = xpos(rs[0] / base), xpos(rs[1] / base)
                o.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#e8e8e8"><title>%s '
                         'rayon %d threads: min-max %.3g-%.3gx its median</title></rect>'
                         % (xl, y - 1, max(xr - xl, 1), ns * bh + 1, w, t, rs[0] / base,
                            rs[1] / base))
            for k, s in enumerate(systems):
                yy = y + k * bh
                if (w, s, t) not in bars:
                    continue
                r, lo_r, hi_r = bars[(w, s, t)]
                xa, xb = xpos(1), xpos(r)
                xl, wd = (xb, xa - xb) if xb < xa else (xa, xb - xa)
                o.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s %d '
                         'threads: %.3gx rayon (min-max %.3g-%.3gx)</title></rect>'
                         % (xl, yy, max(wd, 1), bh - 1, COLOR.get(s, "#888"), w, s, t, r, lo_r,
                            hi_r))
                wl, wr, wy = xpos(lo_r), xpos(hi_r), yy + (bh - 1) / 2
                o.append('<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f" stroke="#333" '
                         'stroke-width="1" fill="none"/>'
                         % (wl, wy, wr, wl, wy - 2.5, wy + 2.5, wr, wy - 2.5, wy + 2.5))
                o.append('<text x="%.1f" y="%d" font-size="8">%.3g</text>'
                         % (max(xa, xb, wr) + 3, yy + bh - 2, r))
            y += ns * bh + 8
    lx = 10
    for s in systems:  # the legend
        o.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>'
                 % (lx, height - 56, COLOR.get(s, "#888"), lx + 14, height - 47, s))
        lx += 110
    o.append('<text x="10" y="%d">black line: rayon (1x); gray band: rayon&apos;s min-max rep over its '
             'median; whiskers: each system&apos;s min-max rep over the rayon median</text>'
             % (height - 29))
    o.append('<text x="10" y="%d" font-size="10" fill="#444">%s</text>'
             % (height - 10, xml(caption(meta))))
    o.append("</svg>")
    with open(svg_path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    return 0


def main(argv):
    usage = __doc__.split("\n\n")[0] + "\n" + __doc__.split("\n\n")[1]
    if len(argv) < 3:
        print(usage, file=sys.stderr)
        return 2
    mode, path = argv[1], argv[2]
    try:
        if mode == "table" and len(argv) == 3:
            return print_table(path, sys.stdout)
        if mode == "processes" and len(argv) == 3:
            return print_process_tables(path, sys.stdout)
        if mode == "levels" and len(argv) == 5:
            return print_levels_table(path, argv[3], argv[4], sys.stdout)
        if mode == "svg" and len(argv) == 4:
            return write_svg(path, argv[3])
        if mode == "meta" and len(argv) == 3 and path == "-":
            print(json.dumps(run_meta(), separators=(",", ":")))
            return 0
    except OSError as e:
        print("bench-report.py: %s" % e, file=sys.stderr)
        return 1
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
