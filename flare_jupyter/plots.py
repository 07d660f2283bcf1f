"""matplotlib figures: federated-statistics histograms, training metrics, stats over time.

Every function returns a plain ``Figure`` built with the object-oriented API (no pyplot state, no global style
change), so callers can restyle or save it; in a notebook a returned Figure renders inline (``inline.py``).
Pure: no IPython, no widgets.
"""

from __future__ import annotations

import io
import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

GLOBAL = "Global"


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
    return fig


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
        if m["round"].nunique() == 1:  # one round: a tick on it, not fractions around it
            ax.set_xticks([int(m["round"].iloc[0])])
        ax.set_xlabel("round")
        ax.set_ylabel(name)
        if len(m):
            ax.legend(fontsize="small")
    return fig


def stats_history_figure(history: pd.DataFrame) -> Figure:
    """One axis per numeric stats key (target / component / key) over time."""
    numeric = history[pd.to_numeric(history["value"], errors="coerce").notna()].copy()
    numeric["value"] = pd.to_numeric(numeric["value"])
    keys = list(dict.fromkeys(zip(numeric["target"], numeric["component"], numeric["key"], strict=True)))
    fig, axes = _grid(max(1, len(keys)))
    if not keys:
        axes[0].set_title("no numeric stats recorded")
        return fig
    for ax, (target, component, key) in zip(axes, keys, strict=True):
        s = numeric[(numeric["target"] == target) & (numeric["component"] == component) & (numeric["key"] == key)]
        ax.plot(s["time"], s["value"], marker=".", label=f"{target}")
        ax.set_title(f"{component}.{key}")
        ax.set_xlabel("time")
        ax.set_ylabel(str(key))
        ax.legend(fontsize="small")
    return fig


def comparison_figure(lines: dict[str, pd.Series], metric: str) -> Figure:
    """One axis: ``metric`` against round, one line per run (each a Series indexed by round)."""
    fig, (ax,) = _grid(1, width=6.0, height=3.6)
    for label, values in lines.items():
        if len(values):
            ax.plot(list(values.index), list(values.values), marker="o", label=str(label))
    ax.set_title(f"{metric} per round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, f"no run reported {metric}", ha="center", va="center", transform=ax.transAxes)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (what a saved report embeds), drawn without pyplot."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
