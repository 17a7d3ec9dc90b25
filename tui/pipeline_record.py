"""A retraining pipeline's record as lines of text, step by step: trigger, data, both
models' metrics, the CI, gate verdicts, approver, canary numbers, watch, rollback."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from mlopsd.client.wire import PipelineOut
from tui.format import number, when

STATE_MARK = {"done": "[green]✔[/]", "running": "[yellow]…[/]", "waiting": "[magenta]⏸[/]",
              "skipped": "[dim]-[/]", "failed": "[red]✘[/]", "cancelled": "[dim]✘[/]"}


def record_lines(p: PipelineOut) -> list[str]:
    lines = [f"[b]pipeline {p.id}[/b] of {escape(p.model)}: {escape(p.state)}"
             + (" (dry run)" if p.dry_run else ""),
             f"trigger   {escape(p.trigger)} by {escape(p.actor)} at {when(p.created_at)}"
             + _detail_text(p.trigger_detail)]
    if p.merged:
        lines.append(f"merged    {len(p.merged)} later trigger(s): "
                     + escape(", ".join(str(m.get("trigger", m)) for m in p.merged)))
    for step in p.steps:
        mark = STATE_MARK.get(step.get("state", ""), escape(str(step.get("state"))))
        lines.append(f"{mark} [b]{escape(str(step.get('step')))}[/b] "
                     f"{escape(str(step.get('state')))}  {when(step.get('started_at'))}")
        lines.extend(f"    {escape(line)}" for line in _step_details(step))
    if p.reason:
        lines.append(f"reason    {escape(p.reason)}")
    if p.ended_at:
        lines.append(f"ended     {when(p.ended_at)}")
    return lines


def _detail_text(detail: Any) -> str:
    if not detail:
        return ""
    if isinstance(detail, dict):
        return " (" + ", ".join(f"{k}: {v}" for k, v in detail.items()) + ")"
    return f" ({detail})"


def _metrics(metrics: dict[str, Any] | None, keys: int = 3) -> str:
    items = [(k, v) for k, v in (metrics or {}).items() if not k.startswith("train_")]
    return ", ".join(f"{k} {number(v)}" for k, v in items[:keys])


def _step_details(step: dict[str, Any]) -> list[str]:
    name, d = step.get("step"), step.get("detail") or {}
    if not isinstance(d, dict):
        return [str(d)]
    if name == "materialise":
        return [f"data {d.get('resolved', d.get('selector', '?'))}: "
                f"{number(d.get('rows'))} rows"]
    if name == "validate":
        return list(d.get("checks") or [])
    if name == "train":
        return [f"challenger {d.get('version', '?')} (run {str(d.get('run_id', '?'))[:8]}, "
                f"job {d.get('job_id', '?')}): {d.get('bump_reason', '')}"]
    if name == "evaluate":
        ch, cp = d.get("challenger") or {}, d.get("champion") or {}
        out = [f"challenger {ch.get('version', '?')}: {_metrics(ch.get('holdout_metrics'))}"]
        if cp:
            out.append(f"champion   {cp.get('version', '?')}: "
                       f"{_metrics(cp.get('holdout_metrics'))}")
        return out
    if name == "compare":
        ci = d.get("ci") or [None, None]
        return [f"{d.get('metric')} on the same {number(d.get('rows'))} rows: challenger "
                f"{number((d.get('challenger') or {}).get('value'))} vs champion "
                f"{number((d.get('champion') or {}).get('value'))}",
                f"improvement {number(d.get('improvement'))}, "
                f"{number(d.get('confidence'))} CI [{number(ci[0])}, {number(ci[1])}] "
                f"({d.get('bootstrap')} resamples, seed {d.get('seed')})"]
    if name == "gate":
        return [("passed " if v.get("passed") else "FAILED ") + f"{v.get('gate')}: "
                + str(v.get("detail", "")) for v in d.get("verdicts") or []]
    if name == "approval":
        who = d.get("actor") or d.get("decided_by") or d.get("by")
        if not d:
            return ["waiting for a person (approve or reject on the Models screen)"]
        return [f"{d.get('decision', '')} by {who or '?'}"
                + (f": {d.get('note')}" if d.get("note") else "")]
    if name in ("deploy", "canary", "shadow"):
        summary = {k: v for k, v in d.items() if k not in ("policy",)}
        return [", ".join(f"{k} {number(v) if not isinstance(v, dict) else _metrics(v)}"
                          for k, v in list(summary.items())[:8])]
    return [", ".join(f"{k}: {v}" for k, v in list(d.items())[:6])] if d else []
