"""Results as Markdown tables (figures against targets, then every run) and a PNG."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: Fan-out over TCP: lairchat's deliveries/s as a fraction of the bare relay's, by R.
TCP_FANOUT_TARGET = {10: 0.35, 100: 0.8, 500: 0.9}
WS_FANOUT_TARGET = 0.7
DOCS_BEGIN = "<!-- bench:begin -->"
DOCS_END = "<!-- bench:end -->"


def num(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def ms(us: float | None) -> str:
    """Microseconds as milliseconds; -1 marks a percentile that fell on a delivery
    that never arrived."""
    if us is None:
        return "–"
    if us < 0:
        return "never (lost)"
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:,.0f} ms"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b or a < 0 or b < 0:
        return None
    return a / b


def times(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**yes**" if ok else "**no**")


def get(d: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def lat(result: dict | None, q: str) -> float | None:
    return get(result, "latency_us", q)


def one_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"FAILED {r['error']}"
    if "per_conn_kib" in r:
        return (
            f"{r['per_conn_kib']} KiB/conn ({r['rss_before_kib']} -> {r['rss_after_kib']} KiB, "
            f"{r['conns']} conns in {r['connect_s']:.1f} s)"
        )
    if "inserts_per_s" in r:
        return f"{num(r['inserts_per_s'])} inserts/s"
    return (
        f"{num(r['deliveries_per_s'])} deliveries/s, {num(r['acks_per_s'])} acks/s, "
        f"sent {num(r['sent_per_s'])}/s, p50 {ms(lat(r, 'p50'))} p99 {ms(lat(r, 'p99'))} "
        f"max {ms(lat(r, 'max'))}, lost {r['lost']}, closed {r['closed']}, errors {r['errors']}, "
        f"server cpu {r.get('server_cpu_pct', '?')}% (core 0: other tasks "
        f"{r.get('core0_other_tasks_pct', '?')}%, irq {r.get('core0_irq_pct', '?')}%, steal "
        f"{r.get('core0_steal_pct', '?')}%), loadgen cpu {r['loadgen_cpu_pct']}%"
    )


# -- the summary ------------------------------------------------------------------------


def summary_rows(res: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []

    def add(name, lair, floor, r, target, ok):
        rows.append([name, lair, floor, r, target, verdict(ok)])

    for proto in ("tcp", "ws"):
        for size, pair in get(res, "fanout", proto).items() if get(res, "fanout", proto) else []:
            lair = get(pair, "lair", "deliveries_per_s")
            floor = get(pair, "relay", "deliveries_per_s")
            rr = ratio(lair, floor)
            goal = TCP_FANOUT_TARGET.get(int(size)) if proto == "tcp" else WS_FANOUT_TARGET
            label = "bare relay" if proto == "tcp" else "bare Autobahn relay"
            add(
                f"Fan-out {proto.upper()}, R={size}: deliveries/s",
                num(lair),
                f"{num(floor)} ({label})",
                times(rr),
                f"≥ {goal}×" if goal else "–",
                None if rr is None or goal is None else rr >= goal,
            )

    base = get(res, "latency", "1000")
    if base:
        for q, goal in (("p50", 1.5), ("p99", 2.0)):
            a, b = lat(base.get("lair"), q), lat(base.get("relay"), q)
            rr = ratio(a, b)
            add(
                f"Latency at 1,000 msg/s, 100 members: {q}",
                ms(a),
                f"{ms(b)} (bare relay)",
                times(rr),
                f"≤ {goal}×",
                None if a is None else rr is not None and rr <= goal,
            )
    high = get(res, "latency", "5000")
    if high:
        lair, relay = high.get("lair"), high.get("relay")
        p99 = lat(lair, "p99")
        add(
            "Latency at 5,000 msg/s, 100 members: p99",
            ms(p99),
            f"{ms(lat(relay, 'p99'))} (bare relay)",
            times(ratio(p99, lat(relay, "p99"))),
            "< 50 ms",
            None if p99 is None else 0 <= p99 < 50_000,
        )
        lost = get(lair, "lost")
        add(
            "Latency at 5,000 msg/s: deliveries lost (never arrived)",
            num(lost),
            f"{num(get(relay, 'lost'))} (bare relay)",
            "–",
            "0",
            None if lost is None else lost == 0 and get(lair, "closed") == 0,
        )

    idle = get(res, "idle")
    if idle:
        kib = get(idle, "lair", "per_conn_kib")
        floor = get(idle, "relay", "per_conn_kib")
        n = get(idle, "lair", "conns") or get(idle, "relay", "conns")
        add(
            f"Server memory per idle authenticated connection ({num(n)})",
            "–" if kib is None else f"{kib:.1f} KiB",
            "–" if floor is None else f"{floor:.1f} KiB (bare relay, unauthenticated)",
            times(ratio(kib, floor)),
            "≤ 10 KiB",
            None if kib is None else kib <= 10,
        )

    durable = get(res, "durable")
    if durable:
        acks = get(durable, "lair", "acks_per_s")
        each = get(durable, "sqlite_batch_1", "inserts_per_s")
        batch = get(durable, "sqlite_batch_100", "inserts_per_s")
        senders = get(res, "plan", "durable_senders")
        add(
            f"Durable acceptance, {senders} senders: acknowledged msg/s (synchronous=FULL)",
            num(acks),
            f"{num(each)} (sqlite3, commit each) / {num(batch)} (commit per 100)",
            f"{times(ratio(acks, each))} / {times(ratio(acks, batch))}",
            "≥ 30,000/s",
            None if acks is None else acks >= 30_000,
        )

    storm = get(res, "storm")
    if storm:
        rate = get(res, "plan", "storm_rate")
        logins = get(storm, "logins", "logins_per_s")
        tag = f"login storm ({logins} logins/s achieved of {rate:g} offered)"
        a, b = lat(storm.get("latency"), "p99"), lat(get(res, "latency", "1000", "lair"), "p99")
        rr = ratio(a, b)
        add(
            f"p99 latency at 1,000 msg/s during a {tag}",
            ms(a),
            f"{ms(b)} (no storm)",
            times(rr),
            "≤ 2×",
            None if a is None else rr is not None and rr <= 2,
        )
        for key, label, base in (
            ("fanout", "Fan-out TCP R=100 deliveries/s", ("fanout", "tcp", "100", "lair")),
            ("durable", "Durable acknowledged msg/s", ("durable", "lair")),
        ):
            field = "deliveries_per_s" if key == "fanout" else "acks_per_s"
            a, b = get(storm, key, field), get(res, *base, field)
            rr = ratio(a, b)
            add(
                f"{label} during the login storm",
                num(a),
                f"{num(b)} (no storm)",
                times(rr),
                "≥ 0.5×",
                None if rr is None else rr >= 0.5,
            )
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# -- every run -------------------------------------------------------------------------------


def run_row(label: str, r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return [label] + ["–"] * (len(RUN_HEADER) - 1)
    if "error" in r:
        return [label, f"failed: {r['error'][:80]}"] + ["–"] * (len(RUN_HEADER) - 2)
    return [
        label + median_note(r),
        num(r.get("deliveries_per_s")),
        num(r.get("acks_per_s")) if r.get("server") == "lair" else "–",
        ms(lat(r, "p50")),
        ms(lat(r, "p99")),
        ms(lat(r, "max")),
        f"{r.get('lost', 0)}/{r.get('closed', 0)}",
        f"{r.get('server_cpu_pct', '–')}%",
        f"{r.get('core0_other_tasks_pct', '–')}% / {r.get('core0_irq_pct', '–')}% / "
        f"{r.get('core0_steal_pct', '–')}%",
        f"{r.get('loadgen_cpu_pct', '–')}%",
        f"{r['commits']} / {r['commits_over_5ms']}" if "commits" in r else "–",
    ]


def median_note(r: dict[str, Any]) -> str:
    """For a median of several runs: how many, and each run's figure (p99 for a
    latency run, deliveries or acknowledgements per second otherwise)."""
    runs = r.get("runs")
    if not runs:
        return ""
    shown = " / ".join(ms(v) if r.get("runs_of") == "p99" else num(v) for v in runs)
    return f", median of {len(runs)} ({shown})"


RUN_HEADER = [
    "run",
    "deliveries/s",
    "acks/s",
    "p50",
    "p99",
    "max",
    "lost/closed",
    "server CPU",
    "core 0: other tasks / irq / steal",
    "loadgen CPU",
    "commits / over 5 ms",
]


def runs_table(res: dict[str, Any]) -> str:
    rows = []
    for proto, sizes in (get(res, "fanout") or {}).items():
        for size, pair in sizes.items():
            for kind in ("relay", "lair"):
                rows.append(run_row(f"fan-out {proto} R={size} {kind}", pair.get(kind)))
    for rate, pair in (get(res, "latency") or {}).items():
        for kind in ("relay", "lair"):
            rows.append(run_row(f"latency {rate} msg/s {kind}", pair.get(kind)))
    if get(res, "durable", "lair"):
        rows.append(run_row("durable acceptance lair", res["durable"]["lair"]))
    for key in ("latency", "fanout", "durable"):
        if get(res, "storm", key):
            rows.append(run_row(f"login storm: {key}", res["storm"][key]))
    return table(RUN_HEADER, rows)


def markdown(res: dict[str, Any]) -> str:
    m = res.get("machine", {})
    plan = res.get("plan", {})
    parts = [
        f"Run of {m.get('date')} on commit `{m.get('commit')}`"
        f"{' (quick mode)' if plan.get('quick') else ''}, {res.get('elapsed_s', '?')} s.",
        "",
        f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), Linux {m.get('kernel')}, "
        f"Python {m.get('python')}, Twisted {m.get('twisted')}, Autobahn {m.get('autobahn')}; "
        f"load average at start {' '.join(m.get('loadavg_at_start', []))}. Server (and "
        "floors) pinned to CPU 0, load generator to CPU 1.",
        "",
        f"Each measurement: {plan.get('warmup')} s warm-up, {plan.get('duration')} s measured; "
        f"{SENDERS_NOTE}",
        "",
        table(["figure", "lairchat", "floor", "ratio", "target", "met"], summary_rows(res)),
        "",
        "Every run (latency from the timestamps in the message bodies; lost = deliveries "
        "still missing when the drain ended (no delivery for "
        f"{plan.get('drain')} s, or {plan.get('drain_max')} s after sending stopped), "
        "closed = connections the server dropped; CPU over the measured "
        "window, 100% = one core; what else ran on core 0: other processes, interrupt "
        "and softirq time (mostly the loopback network), time stolen by the hypervisor; "
        "lairchat's group commits in the window, and how many took over 5 ms, fsync "
        "included: each one holds back the messages it carries):",
        "",
        runs_table(res),
    ]
    idle = get(res, "idle")
    if idle:
        rows = []
        for kind in ("relay", "lair"):
            r = idle.get(kind) or {}
            if "error" in r:
                rows.append([kind, f"failed: {r['error'][:80]}", "", "", "", ""])
            elif r:
                rows.append(
                    [
                        kind,
                        num(r["conns"]),
                        f"{num(r['rss_before_kib'])} KiB",
                        f"{num(r['rss_after_kib'])} KiB",
                        f"{r['per_conn_kib']:.2f} KiB",
                        f"{num(r['conns_per_s'])}/s",
                    ]
                )
        parts += [
            "",
            "Idle connections (RSS after a 200-connection warm-up, then with every "
            "connection open and authenticated):",
            "",
            table(
                [
                    "server",
                    "connections",
                    "RSS before",
                    "RSS after",
                    "per connection",
                    "connected (and authenticated)",
                ],
                rows,
            ),  # fmt: skip
        ]
    durable = get(res, "durable")
    if durable:
        rows = [
            [
                key.replace("sqlite_batch_", "sqlite3, commit every "),
                num(v.get("inserts_per_s")),
                f"{get(v, 'commit_ms', 'p50')} / {get(v, 'commit_ms', 'p99')} ms",
            ]
            for key, v in durable.items()
            if key.startswith("sqlite") and "error" not in v
        ]
        parts += ["", "Raw sqlite3 floor (WAL, synchronous=FULL, pinned to CPU 0):", ""]
        parts.append(table(["loop", "inserts/s", "commit() p50 / p99"], rows))
    logins = get(res, "storm", "logins")
    if logins:
        parts += [
            "",
            f"Login storm: offered {logins['offered_per_s']}/s, completed "
            f"{logins['logins_per_s']}/s, {logins['failures']} failed, login latency p50 "
            f"{logins['login_p50_ms']} ms, p99 {logins['login_p99_ms']} ms.",
        ]
    return "\n".join(parts) + "\n"


SENDERS_NOTE = (
    "fan-out: 10 senders, 16 messages in flight each, 64-byte contents; latency: 10 "
    "senders at a fixed total rate in a 100-member room (open loop). Fan-out ratios "
    "compare deliveries/s (lairchat also delivers each message to its sender and sends "
    "it a response; the relay does neither)."
)


# -- the plot ----------------------------------------------------------------------------------


def plot(res: dict[str, Any], path: Path) -> Path | None:
    points = get(res, "latency") or {}
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    lost: list[tuple[str, int]] = []
    for rate, pair in sorted(points.items(), key=lambda kv: int(kv[0])):
        for kind in ("relay", "lair"):
            for q in ("p50", "p99"):
                v = lat(pair.get(kind), q)
                if v is not None and v >= 0:
                    series.setdefault((kind, q), []).append((int(rate), v / 1000))
                elif v is not None and q == "p99":
                    lost.append((kind, int(rate)))  # the p99 delivery never arrived
    if not series:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot")
        return None
    fig, ax = plt.subplots(figsize=(9.5, 4.8), dpi=120)
    names = {"lair": "lairchat", "relay": "bare Twisted relay"}
    colors = {"lair": "tab:blue", "relay": "tab:gray"}
    for (kind, q), pts in sorted(series.items()):
        xs, ys = zip(*pts, strict=True)
        ax.plot(
            xs,
            ys,
            marker="o",
            linestyle="-" if q == "p50" else "--",
            color=colors[kind],
            label=f"{names[kind]} {q}",
        )
    ax.set_yscale("log")
    if lost:
        top = max(y for pts in series.values() for _, y in pts) * 3
        for kind in ("relay", "lair"):
            xs = [x for k, x in lost if k == kind]
            if xs:
                ax.scatter(xs, [top] * len(xs), marker="x", s=60, color=colors[kind],
                           label=f"{names[kind]}: over 1% of deliveries never arrived")  # fmt: skip
    plain = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("offered load (messages/s into a 100-member room, TCP)")
    ax.set_ylabel("send-to-delivery latency (ms)")
    ax.axhline(50, color="tab:red", linewidth=0.8, linestyle=":")
    ax.text(ax.get_xlim()[0], 52, " 50 ms", color="tab:red", fontsize=8, va="bottom")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title("Latency against offered load")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def update_docs(doc: Path, markdown_text: str) -> None:
    text = doc.read_text()
    block = f"{DOCS_BEGIN}\n{markdown_text}{DOCS_END}"
    pattern = re.compile(re.escape(DOCS_BEGIN) + ".*?" + re.escape(DOCS_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no {DOCS_BEGIN} … {DOCS_END} section")
    doc.write_text(pattern.sub(lambda _: block, text))
