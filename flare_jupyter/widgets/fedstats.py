"""An interactive histogram of a federated statistics result: pick a feature, count or percent, and the sites."""

from __future__ import annotations

import io

import ipywidgets as w

from .. import render
from ..errors import describe


class FedStatsExplorer(w.VBox):
    """Redraws ``FedStats.histograms`` for the chosen feature, scale and sites (a PNG, no Output capture)."""

    def __init__(self, stats):
        self.stats = stats
        features = stats._features(None)
        self.feature = w.Dropdown(options=features, value=features[0], description="feature")
        self.scale = w.ToggleButtons(options=["count", "percent"], value="count")
        self.site_boxes = {
            s: w.Checkbox(value=True, description=s, indent=False, layout=w.Layout(width="auto")) for s in stats.sites
        }
        self.image = w.Image(format="png")
        self.banner = w.HTML()
        super().__init__(
            [
                w.HBox([self.feature, self.scale]),
                w.HBox(list(self.site_boxes.values())),
                self.banner,
                self.image,
            ]
        )
        for control in (self.feature, self.scale, *self.site_boxes.values()):
            control.observe(self._redraw, names="value")
        self._redraw()

    @property
    def selected_sites(self) -> list[str]:
        return [s for s, box in self.site_boxes.items() if box.value]

    def figure(self):
        if not self.selected_sites:
            raise ValueError("tick at least one site to draw")
        return self.stats.histograms(
            self.feature.value, percent=self.scale.value == "percent", sites=self.selected_sites
        )

    def _redraw(self, _change=None) -> None:
        try:
            fig = self.figure()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90)
            self.image.value = buf.getvalue()
            self.banner.value = ""
        except Exception as e:  # shown in the widget, never swallowed by ipywidgets
            self.banner.value = render.banner(describe(e, "explore"))

    def __repr__(self) -> str:
        return f"FedStats explorer ({self.feature.value}, {self.scale.value}, sites {', '.join(self.selected_sites)})"
