"""A check's report for people and for CI: the table `mlops check` prints, JUnit XML (one
testsuite per check, one testcase per rule or gate) for CI test reports, and Markdown for
a pull request's comment. Files are written whole or not at all (mlopsd/atomic.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from mlopsd.atomic import write_bytes_atomic, write_text_atomic
from mlopsd.cli.output import print_table
from mlopsd.client.wire import CheckItem, CheckReport

REPORT_MODE = 0o644
"""Reports are for sharing (a CI job uploads them): readable, unlike the home's files."""

_MARK = {"passed": "✅", "warning": "⚠️", "failed": "❌", "error": "💥", "skipped": "⏭️"}
_VERDICT = {"pass": "✅ PASS", "fail": "❌ FAIL", "error": "💥 ERROR"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold, even escaped (ElementTree writes them as they are, and a
CI's JUnit reader then refuses the whole file)."""
_FIRST = ("error", "failed", "warning", "passed", "skipped")
"""The Markdown table's order (stable within a status): what needs a look first."""


def title(report: CheckReport) -> str:
    if report.kind == "data":
        return f"mlops check data {report.subject}" + (f" ({report.file})" if report.file
                                                       else "")
    return f"mlops check model {report.subject}" + (f" against {report.against}"
                                                     if report.against else "")


def context_lines(report: CheckReport) -> list[str]:
    """What the check was about, beyond its rules: the file, or the comparison's numbers."""
    lines = []
    if report.kind == "data":
        if report.rows is not None:
            lines.append(f"file {report.file}: {report.rows} rows, {report.columns} columns")
        lines.append("learned rules from " + (report.reference or "nothing yet (the dataset "
                                               "has no version)"))
    comparison = report.comparison or {}
    if report.kind == "model" and comparison:
        ours = (comparison.get("challenger") or {}).get("value")
        theirs = (comparison.get("champion") or {}).get("value")
        line = (f"{report.metric} on its holdout ({comparison.get('rows')} rows): "
                f"{_num(ours)}")
        if theirs is not None:
            ci = comparison.get("ci") or [None, None]
            line += (f", {report.against}: {_num(theirs)}; improvement "
                     f"{_num(comparison.get('improvement'))}, "
                     f"{comparison.get('confidence', 0):.0%} CI [{_num(ci[0])}, {_num(ci[1])}] "
                     f"({comparison.get('bootstrap')} paired resamples)")
        lines.append(line)
    return lines


def exit_status(report: CheckReport, *, strict: bool = False) -> str:
    """pass, fail or error, with `strict`: warnings fail."""
    if report.verdict == "pass" and strict and any(c.status == "warning"
                                                   for c in report.checks):
        return "fail"
    return report.verdict


def print_report(report: CheckReport, *, strict: bool = False) -> None:
    print(title(report))
    for line in context_lines(report):
        print(f"  {line}")
    print()
    target = "column" if report.kind == "data" else "about"
    print_table([[c.status, c.name, c.target, c.rule] for c in report.checks],
                ["status", "check", target, "rule"], max_width=90)
    notes = [c for c in report.checks if c.status != "passed" and c.message]
    if notes:
        print()
    for c in notes:
        print(f"{c.status}: {c.name}" + (f" {c.target}" if c.target else "") + f": {c.message}")
    print()
    verdict = exit_status(report, strict=strict)
    why = " (strict: warnings fail)" if verdict != report.verdict else ""
    print(f"verdict: {verdict.upper()}{why} ({report.summary})")


def junit_xml(report: CheckReport, *, strict: bool = False) -> bytes:
    """One testsuite, one testcase per rule or gate: a failed rule is a <failure>, a check
    that could not run an <error>, a rule not reached <skipped>; a warning is a <failure>
    under `strict`, else a passing testcase that says it in <system-out>."""
    counts: Counter[str] = Counter()
    suite = ET.Element("testsuite", name=_xml(title(report)))
    properties = ET.SubElement(suite, "properties")
    for name, value in (("verdict", exit_status(report, strict=strict)),
                        ("subject", report.subject), ("file", report.file),
                        ("against", report.against)):
        if value is not None:
            ET.SubElement(properties, "property", name=name, value=_xml(value))
    # Readers group testcases by the classname's dots: a version's dots would split it.
    classname = _xml(f"mlops.check.{report.kind}.{report.subject.replace('.', '_')}")
    for item in report.checks:
        case = ET.SubElement(suite, "testcase", classname=classname,
                             name=_xml(_case_name(item)))
        text = _xml(_case_text(item))
        if item.status == "failed" or (item.status == "warning" and strict):
            ET.SubElement(case, "failure", message=text, type=item.name).text = text
            counts["failures"] += 1
        elif item.status == "error":
            ET.SubElement(case, "error", message=text, type=item.name).text = text
            counts["errors"] += 1
        elif item.status == "skipped":
            ET.SubElement(case, "skipped", message=_xml(item.message or "not checked"))
            counts["skipped"] += 1
        elif item.status == "warning":
            ET.SubElement(case, "system-out").text = f"warning: {text}"
    suite.set("tests", str(len(report.checks)))
    for key in ("failures", "errors", "skipped"):
        suite.set(key, str(counts[key]))
    root = ET.Element("testsuites", name="mlops check", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"),
                      skipped=suite.get("skipped", "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml(text: str) -> str:
    """Text XML can hold: a character it cannot is written as its escape (`\\x01`)."""
    return _NOT_XML.sub(lambda m: m[0].encode("unicode_escape", "backslashreplace").decode(),
                        text)


def _case_name(item: CheckItem) -> str:
    return item.name + (f" {item.target}" if item.target else "")


def _case_text(item: CheckItem) -> str:
    parts = [p for p in (item.rule and f"rule: {item.rule}", item.message) if p]
    return "; ".join(parts) or item.status


def markdown(report: CheckReport, *, strict: bool = False) -> str:
    """A heading, the verdict line, the context, and a table of the rules or gates."""
    verdict = exit_status(report, strict=strict)
    lines = [f"### {title(report)}", "",
             f"**{_VERDICT[verdict]}** — {report.summary}"
             + (" (strict: warnings fail)" if verdict != report.verdict else ""), ""]
    lines += [f"- {_cell(line)}" for line in context_lines(report)]
    target = "column" if report.kind == "data" else "about"
    lines += ["", f"| | check | {target} | rule | found |", "|---|---|---|---|---|"]
    for item in sorted(report.checks, key=lambda c: _FIRST.index(c.status)):
        lines.append(f"| {_MARK[item.status]} {item.status} | {_cell(item.name)} | "
                     f"{_cell(item.target or '')} | {_cell(item.rule or '')} | "
                     f"{_cell(item.message or '')} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _num(value: object) -> str:
    return "n/a" if not isinstance(value, int | float) else f"{value + 0.0:.6g}"


def write_reports(report: CheckReport, *, junit: Path | None, summary: Path | None,
                  strict: bool = False) -> None:
    if junit is not None:
        write_bytes_atomic(junit, junit_xml(report, strict=strict), mode=REPORT_MODE)
    if summary is not None:
        write_text_atomic(summary, markdown(report, strict=strict), mode=REPORT_MODE)
