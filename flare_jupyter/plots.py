"""matplotlib figures: federated-statistics histograms, training metrics, stats over time.

Every function returns a plain ``Figure`` built with the object-oriented API (no pyplot state, no global style
change), so callers can restyle or save it; in a notebook a returned Figure renders inline.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

GLOBAL = "Global"


def shown_inline(fig: Figure) -> Figure:
    """Make sure IPython can draw ``fig`` as a PNG when it is a cell's value.

    IPython registers its Figure formatter only once pyplot or ``%matplotlib inline`` is used; our figures never
    touch pyplot (no global state), so we register the same formatter (IPython's own ``print_figure``) for the
    Figure type when none is there. Nothing else changes: no backend switch, no rcParams."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure

        ip = get_ipython()
        if ip is not None:
            png = ip.display_formatter.formatters["image/png"]
            try:
                png.lookup(fig)
            except KeyError:
                png.for_type(Figure, lambda f: print_figure(f, "png", bbox_inches="tight"))
    except Exception:  # displaying is a convenience: never let it break returning the figure
        pass
    return fig


def _grid(n: int, width: float = 4.2, height: float = 3.0, max_cols: int = 3) -> tuple[Figure, list]:
    cols = max(1, min(max_cols, n))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def histograms_figure(frames: dict[str, pd.DataFrame], percent: bool = False, sites=None) -> Figure:
    """One axis per feature: every site's buckets as translucent bars, the global histogram as an outline."""
    fig, axes = _grid(len(frames))
    column = "percent" if percent else "count"
    for ax, (feature, hist) in zip(axes, frames.items(), strict=True):
        shown = [s for s in dict.fromkeys(hist["site"]) if sites is None or s in sites or s == GLOBAL]
        local = [s for s in sorted(shown) if s != GLOBAL]
        for site in local:
            h = hist[hist["site"] == site]
            ax.bar(h["low"], h[column], width=(h["high"] - h["low"]), align="edge", alpha=0.45, label=site)
        if GLOBAL in shown and (sites is None or GLOBAL in sites):
            g = hist[hist["site"] == GLOBAL].sort_values("low")
            edges = list(g["low"]) + [g["high"].iloc[-1]] if len(g) else []
            heights = list(g[column]) + [g[column].iloc[-1]] if len(g) else []
            ax.step(edges, heights, where="post", color="black", linewidth=1.5, label=GLOBAL)
        ax.set_title(str(feature))
        ax.set_xlabel(str(feature))
        ax.set_ylabel("percent of rows" if percent else "rows")
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize="small")
    return shown_inline(fig)


def metrics_figure(metrics: pd.DataFrame) -> Figure:
    """One axis per metric: one line per site, value against round."""
    names = list(dict.fromkeys(str(m) for m in metrics["metric"])) or ["metric"]
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=True):
        m = metrics[metrics["metric"] == name]
        for site in sorted({str(s) for s in m["site"]}):
            s = m[m["site"] == site].sort_values("round")
            ax.plot(s["round"], s["value"], marker="o", label=site)
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("round")
        ax.set_ylabel(name)
        if len(m):
            ax.legend(fontsize="small")
    return shown_inline(fig)


def stats_history_figure(history: pd.DataFrame) -> Figure:
    """One axis per numeric stats key (target / component / key) over time."""
    numeric = history[pd.to_numeric(history["value"], errors="coerce").notna()].copy()
    numeric["value"] = pd.to_numeric(numeric["value"])
    keys = list(dict.fromkeys(zip(numeric["target"], numeric["component"], numeric["key"], strict=True)))
    fig, axes = _grid(max(1, len(keys)))
    if not keys:
        axes[0].set_title("no numeric stats recorded")
        return shown_inline(fig)
    for ax, (target, component, key) in zip(axes, keys, strict=True):
        s = numeric[(numeric["target"] == target) & (numeric["component"] == component) & (numeric["key"] == key)]
        ax.plot(s["time"], s["value"], marker=".", label=f"{target}")
        ax.set_title(f"{component}.{key}")
        ax.set_xlabel("time")
        ax.set_ylabel(str(key))
        ax.legend(fontsize="small")
    return shown_inline(fig)
