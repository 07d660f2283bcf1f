"""What flare-jupyter needs from the notebook front end itself: whether widgets can render here, and matplotlib
figures shown inline when they are a cell's value.

Our figures are built with matplotlib's object-oriented API and never touch pyplot (no global state), so IPython's
own PNG formatter for ``Figure`` (which it registers only once pyplot or ``%matplotlib inline`` is used) may be
missing: ``show_figures_inline`` registers that same formatter (IPython's ``print_figure``) when none is there.
Nothing else changes: no backend switch, no rcParams. The package calls it when it is imported inside IPython and
when ``%load_ext flare_jupyter`` runs.
"""

from __future__ import annotations

from IPython import get_ipython
from IPython.core.pylabtools import print_figure


def widgets_render_here() -> bool:
    """True in a Jupyter kernel (a front end may draw widgets); False in a plain terminal IPython or Python."""
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def show_figures_inline(shell=None) -> None:
    """Let ``shell`` (default: the running IPython, if any) display a returned ``Figure`` as a PNG."""
    shell = shell or get_ipython()
    if shell is None:
        return
    try:  # by name, so matplotlib (slow to import) is not imported before a figure exists
        png = shell.display_formatter.formatters["image/png"]
        if ("matplotlib.figure", "Figure") not in png.deferred_printers and not _has_figure_printer(png):
            png.for_type_by_name("matplotlib.figure", "Figure", _png)
    except Exception:  # displaying is a convenience: never let it break an import
        pass


def _has_figure_printer(formatter) -> bool:
    return any(getattr(t, "__name__", "") == "Figure" and "matplotlib" in t.__module__ for t in formatter.type_printers)


def _png(figure):
    return print_figure(figure, "png", bbox_inches="tight")
