"""A run as one page to share: ``fj.report(job)`` shows it in the notebook, ``.save(path)`` writes it as a single
self-contained HTML file (styles inline, the plot embedded as a data URI, no script, nothing fetched from any URL).

It holds the run's identity, status and timeline, its settings, a table per site, its metrics (table and plot) and,
when it failed, the triage. Every string that came from the server is escaped (``render``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from . import compat, render
from .compare import RunFacts, outcome, run_facts
from .errors import FlareError
from .failures import ended_abnormally
from .progress import job_sites
from .triage import Triage, triage
from .values import duration_seconds, timestamp


class Report:
    """One run, ready to show or save (see the module docstring)."""

    def __init__(self, facts: RunFacts, found: Triage | None, plot_png: bytes | None):
        self.facts, self.triage, self.plot_png = facts, found, plot_png

    @property
    def job_id(self) -> str:
        return self.facts.job_id

    @property
    def title(self) -> str:
        return f"Run {self.facts.meta.get('name') or 'job'} ({self.job_id})"

    def _header(self) -> str:
        meta = self.facts.meta
        return render.job_header(str(meta.get("name", "")), self.job_id, str(meta.get("status", "")), "")

    def sections(self) -> list[str]:
        parts = [
            render.report_section("Run", render.key_value_table("", identity(self.facts))),
            render.report_section("Timeline", render.key_value_table("", timeline(self.facts.meta))),
            render.report_section("Settings", render.key_value_table("", settings_shown(self.facts))),
            render.report_section("Sites", render.table(site_rows(self.facts, self.triage), empty="no site")),
            render.report_section("Metrics", self._metrics_html()),
        ]
        if self.triage is not None:
            parts.append(render.report_section("Triage", self.triage._repr_html_()))
        return parts

    def _metrics_html(self) -> str:
        metrics = self.facts.metrics
        source = render.note(f"source: {metrics.source}")
        if not len(metrics):
            return source + render.note("no metrics were reported")
        table = metrics.pivot_table(index="round", columns=["site", "metric"], values="value", aggfunc="last")
        table.columns = [f"{site} {metric}" for site, metric in table.columns]
        image = render.png_image(self.plot_png, "metrics by round") if self.plot_png else ""
        return source + render.frame_html(table.reset_index(), max_rows=1000) + image

    def html(self) -> str:
        """The whole page (what ``save`` writes)."""
        return render.report_page(self.title, self._header(), self.sections())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (a ``.html`` file; its folder is made if missing); returns the path."""
        target = Path(path).expanduser()
        if target.suffix.lower() not in (".html", ".htm"):
            target = target.with_name(target.name + ".html")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.html(), encoding="utf-8")
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            why = getattr(e, "strerror", None) or str(e)
            raise FlareError(f"cannot write the report there ({why}): give another path (a .html file)") from None
        return target.resolve()

    def _repr_html_(self) -> str:
        return render.report_fragment(self._header(), self.sections())

    def __repr__(self) -> str:
        result = outcome(self.facts)
        line = f"{self.title}: {result['status']}"
        if result["key_metric"] and result["final"] is not None:
            line += f", final {result['key_metric']} {result['final']:g}"
        if self.triage is not None and self.triage.origin:
            line += f"; the failure started on {self.triage.origin}"
        return line + " (.save(path) writes it as one HTML file)"


def identity(facts: RunFacts) -> dict:
    meta = facts.meta
    return {
        "job id": facts.job_id,
        "name": meta.get("name", ""),
        "status": meta.get("status", ""),
        "submitted by": " ".join(str(meta.get(k, "")) for k in ("submitter_name", "submitter_org")).strip(),
        "study": meta.get("study", ""),
        "NVFlare": str(compat.NVFLARE_VERSION),
    }


def timeline(meta: dict) -> dict:
    """Submitted, started, ended (start + run time) and the run time, as the server's meta says."""
    submitted = timestamp(meta.get("submit_time_iso")) or timestamp(meta.get("submit_time"))
    started = timestamp(meta.get("start_time"))
    seconds = duration_seconds(meta.get("duration"))
    ended = started + timedelta(seconds=seconds) if started and seconds == seconds else None
    when = {"submitted": submitted, "started": started, "ended": ended}
    out = {k: v.isoformat(sep=" ", timespec="seconds") if v else "" for k, v in when.items()}
    out["run time"] = str(meta.get("duration", "")) if seconds == seconds else ""
    return out


def settings_shown(facts: RunFacts) -> dict:
    return {k: "" if v is None else v for k, v in facts.settings.items()}


def site_rows(facts: RunFacts, found: Triage | None) -> list[dict]:
    """Per site (and the aggregated values): rounds reported, the last one and its values, its first error; then the
    server when it logged one."""
    metrics = facts.metrics
    errors = {f.target: f.exception or f.error for f in (found.failures if found else [])}
    sites = list(dict.fromkeys([*job_sites(facts.meta), *(str(s) for s in metrics["site"])]))
    rows = []
    for site in sites:
        mine = metrics[metrics["site"] == site]
        last = mine[mine["round"] == mine["round"].max()]
        rows.append(
            {
                "site": site,
                "rounds reported": int(mine["round"].nunique()),
                "last round": int(mine["round"].max()) if len(mine) else "",
                "last values": ", ".join(f"{m} {v:g}" for m, v in zip(last["metric"], last["value"], strict=True)),
                "first error": errors.get(site, ""),
            }
        )
    if errors.get("server"):
        rows.append({"site": "server", "first error": errors["server"]})
    return rows


def report(job_id) -> Report:
    """The report of a run (a ``Run``, a job id or a unique prefix of one); see the module docstring."""
    facts = run_facts(job_id)
    found = triage(facts.job_id) if ended_abnormally(str(facts.meta.get("status", ""))) else None
    png = None
    if len(facts.metrics):
        from .plots import figure_png  # deferred: matplotlib takes about half a second to import

        png = figure_png(facts.metrics.plot())
    return Report(facts, found, png)
