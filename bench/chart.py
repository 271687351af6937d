"""chart: draws bench/results/latest.svg from the rows of bench/results/latest.md.

Left: throughput by message size (64 B to 1 MiB, log scales) for sockloop in C
(sl_send_all/sl_recv_exact), plain C (writen/readn), the Python binding and
Python's own sendall/recv_into: rows "| sweep SIZE (C)" from bench_sweep and
"| sweep SIZE (Python)" from bench_python.py.
Right: the echo servers' CPU time per request (rows "| echo server ..." from
bench_echo.py). Standard library only; usage: python3 bench/chart.py [md] [svg]
"""
import math
import re
import sys
from xml.sax.saxutils import escape

SIZES = ["64 B", "1 KiB", "16 KiB", "256 KiB", "1 MiB"]
NUM = r"([\d,.]+)"


def parse(md):
    sweep = {"sockloop (C)": {}, "plain C writen/readn": {}, "sockloop Python binding": {},
             "Python sendall/recv_into": {}}
    echo = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        m = re.match(r"sweep (.+?) \((C|Python)\)", cells[0])
        if m:
            size, lang = m.groups()
            a = float(re.match(NUM, cells[1]).group(1).replace(",", ""))
            b = float(re.match(NUM, cells[2]).group(1).replace(",", ""))
            names = ("sockloop (C)", "plain C writen/readn") if lang == "C" else (
                "sockloop Python binding", "Python sendall/recv_into")
            sweep[names[0]][size], sweep[names[1]][size] = a, b
            continue
        m = re.match(r"echo server.*CPU per request vs (.+)", cells[0])
        if m:
            echo["sockloop multiconn_server"] = float(re.match(NUM, cells[1]).group(1))
            echo[m.group(1)] = float(re.match(NUM, cells[2]).group(1))
    return sweep, echo


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def text(x, y, s, size=12, anchor="start", extra=""):
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{escape(s)}</text>'


def sweep_panel(sweep, x0, y0, w, h):
    out = [text(x0 + w / 2, y0 - 12, "Throughput by message size, one way, loopback TCP (MiB/s, log)", 14, "middle")]
    values = [v for series in sweep.values() for v in series.values() if v > 0]
    if not values:
        return out + [text(x0 + w / 2, y0 + h / 2, "no sweep rows in the results", 12, "middle")]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    ly = lambda v: y0 + h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * h
    lx = lambda i: x0 + i * w / (len(SIZES) - 1)
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    decade = lo
    while decade <= hi:
        y = ly(decade)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(text(x0 - 6, y + 4, f"{decade:g}", 11, "end"))
        decade *= 10
    for i, size in enumerate(SIZES):
        out.append(text(lx(i), y0 + h + 18, size, 11, "middle"))
    for k, (name, series) in enumerate(sweep.items()):
        pts = [(lx(i), ly(series[s])) for i, s in enumerate(SIZES) if series.get(s, 0) > 0]
        colour = COLOURS[k]
        dash = ' stroke-dasharray="6 4"' if "Python" in name else ""
        if pts:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in pts]
        out.append(f'<line x1="{x0 + 10}" y1="{y0 + 16 + 16 * k}" x2="{x0 + 34}" y2="{y0 + 16 + 16 * k}" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(text(x0 + 40, y0 + 20 + 16 * k, name, 11))
    return out


def echo_panel(echo, x0, y0, w, h):
    out = [text(x0 + w / 2, y0 - 12, "Echo server: CPU µs per request (lower is better)", 14, "middle")]
    if not echo:
        return out + [text(x0 + w / 2, y0 + h / 2, "no echo rows in the results", 12, "middle")]
    top = max(echo.values()) * 1.15
    bar = h / len(echo)
    for k, (name, value) in enumerate(echo.items()):
        y = y0 + k * bar
        length = value / top * (w - 10)
        colour = COLOURS[0] if name.startswith("sockloop") else "#888"
        out.append(f'<rect x="{x0}" y="{y + 4:.1f}" width="{length:.1f}" height="{bar - 22:.1f}" fill="{colour}"/>')
        out.append(text(x0 + length + 4, y + bar / 2, f"{value:.2f}", 11))
        out.append(text(x0, y + bar - 5, name, 11))
    return out


def main():
    md_path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.md"
    svg_path = sys.argv[2] if len(sys.argv) > 2 else "bench/results/latest.svg"
    with open(md_path, encoding="utf-8") as f:
        sweep, echo = parse(f.read())
    width, height = 1100, 420
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    parts += sweep_panel(sweep, 70, 50, 470, 320)
    parts += echo_panel(echo, 620, 50, 440, 320)
    parts.append("</svg>")
    with open(svg_path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")
    print(f"chart: wrote {svg_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
