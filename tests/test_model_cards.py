"""Model cards and run comparisons as pages for people who do not use a terminal (issue 15,
part 3), on a real daemon: the bikeshare example (with a hostile category value) ingested,
`riders` trained twice by the train job with a `[model.card]` that declares slices (and
holds a `<script>`), promoted; then `mlops models card riders:1.0.0 --html/--md` and `mlops
runs compare A B --html`.

The HTML is rendered by headless Chromium where it is installed (the DOM after rendering,
and a screenshot) and always read with Python's html.parser: the main figures are on the
page (the headline metric with its interval, a slice's metric, the top feature, the
version, the data version), nothing refers to the network, and every user string is text,
never markup. The job's intervals and slices, checked against a naive computation, and the
card's other parts that need no daemon: tests/test_model_card_parts.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from jobs.train import holdout_stats
from mlopsd.cli import card_facts
from mlopsd.client.errors import BadPathName
from mlopsd.client.numbers import number
from mlopsd.client.wire import ModelCardOut
from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

HOSTILE_VALUE = "<b>storm</b><script>alert('value')</script>"
HOSTILE_TEXT = "<script>alert('card')</script> & no promises after 2011"
CHROMIUM = Path("/usr/bin/chromium")
CARD = """
[model.card]
intended_use = "Hourly rider counts of the 2011 network, to plan bikes a day ahead."
assumptions = ["Weather is known an hour ahead.", "Stations did not change in 2011."]
limitations = ["{hostile}", "One year of data: holidays of other years are unseen."]
slices = ["weathersit", "temp", "season"]
"""


CLASSIFIERS = """
[[dataset]]
name = "sky"
target = "weathersit"

[[model]]
name = "busy"
task = "binary"
data = "bikes@all"
target = "busy"
exclude = ["casual", "registered", "ts", "bikers"]
rounds = 8
early_stopping = 0

[model.card]
slices = ["season"]

[[model]]
name = "sky"
task = "multiclass"
data = "sky@all"
target = "weathersit"
exclude = ["busy", "ts"]
rounds = 8
early_stopping = 0
"""


def config(rounds: int) -> str:
    return (f'[ingest]\nsettle_s = 0.2\n\n[[dataset]]\nname = "bikes"\ntarget = "bikers"\n'
            f'time_column = "ts"\n\n[[model]]\nname = "riders"\ndata = "bikes@all"\n'
            f'target = "bikers"\nexclude = ["casual", "registered", "ts", "busy"]\n'
            f"rounds = {rounds}\nearly_stopping = 0\n"
            + CARD.format(hostile=HOSTILE_TEXT.replace('"', '\\"')) + CLASSIFIERS)


@dataclass
class Home:
    d: DaemonProcess
    out: Path
    card: ModelCardOut
    html: str
    markdown: str
    runs: tuple[str, str]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, bike: pl.DataFrame) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("cards")
    d = DaemonProcess(root / "home", config=config(8)).start()
    try:
        client = d.client
        assert client is not None
        frame = bike.with_columns(weathersit=pl.when(pl.col("weathersit") == "light rain/snow")
                                  .then(pl.lit(HOSTILE_VALUE)).otherwise(pl.col("weathersit")))
        frame.write_csv(root / "bikes.csv")
        client.upload("bikes", root / "bikes.csv")
        wait_until(lambda: len(client.list_versions("bikes")) >= 1, timeout=60, what="bikes@1")
        first = run_mlops(d.home.root, "train", "riders", "--wait", timeout=300)
        assert first.returncode == 0, first.stdout + first.stderr
        d.home.config.write_text(config(12))  # new params: a patch version, a second run
        client.reload()
        second = run_mlops(d.home.root, "train", "riders", "--wait", timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        promoted = run_mlops(d.home.root, "promote", "riders", "1.0.0", "--reason",
                             "reviewed by the planning team")
        assert promoted.returncode == 0, promoted.stderr
        out = root / "out"
        out.mkdir()
        written = run_mlops(d.home.root, "models", "card", "riders:1.0.0", "--html",
                            str(out / "card.html"), "--md", str(out / "card.md"))
        assert written.returncode == 0, written.stdout + written.stderr
        runs = tuple(client.model_version("riders", v).run_id for v in ("1.0.0", "1.0.1"))
        yield Home(d, out, client.model_card("riders", "1.0.0"),
                   (out / "card.html").read_text(), (out / "card.md").read_text(),
                   (runs[0] or "", runs[1] or ""))
    finally:
        d.kill()


class _Page(HTMLParser):
    """The page as a browser's parser sees it: its text, its elements, their links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def main_figures(card: ModelCardOut) -> list[str]:
    """What a reader must find on the page, as the page writes it."""
    head = next(m for m in card.metrics if m.name == card.headline)
    assert head.low is not None and head.high is not None
    clear = next(g for s in card.slices or [] if s.column == "weathersit"
                 for g in s.groups if g.value == "clear")
    assert card.importance
    return [f"{number(head.low)} to {number(head.high)}", number(head.value),
            number(clear.metrics["rmse"]), card.importance[0].feature, "1.0.0", "bikes@1"]


def test_the_card_holds_the_facts_of_the_version(home: Home) -> None:
    card = home.card
    assert card.headline == "rmse" and card.interval is not None
    assert card.interval.resamples == holdout_stats.RESAMPLES and card.interval.seed == 42
    for metric in card.metrics:
        assert metric.low is not None and metric.high is not None, metric
        assert metric.low <= metric.value <= metric.high, metric
    assert [s.column for s in card.slices or []] == ["weathersit", "temp", "season"]
    weather = card.slices[0] if card.slices else None
    assert weather is not None and weather.how == "each value"
    assert {g.value for g in weather.groups} >= {"clear", HOSTILE_VALUE}
    temp = card.slices[1] if card.slices else None
    assert temp is not None and "quantiles" in temp.how and len(temp.groups) == 5
    holdout = (card.training_data.rows or {})["holdout"]
    assert sum(g.rows for g in temp.groups) == holdout, "bins cover the holdout once"
    assert card.card.limitations[0] == HOSTILE_TEXT and card.card.slices[0] == "weathersit"
    assert card.training_data.split == "time" and card.training_data.time_range
    assert [f"{v.dataset}@{v.version}" for v in card.training_data.versions] == ["bikes@1"]
    assert card.training_data.versions[0].rows == 8645
    assert {c.role for c in card.training_data.columns} >= {"input", "target", "time column"}
    assert card.lineage.seed == 42 and card.lineage.config_hash and card.lineage.libraries
    assert card.curves and card.curves[0].series["holdout"], "the holdout's curve per round"
    assert [a.action for a in card.approvals][:2] == ["registered", "promoted"]
    promoted = card.approvals[1]
    assert promoted.reason == "reviewed by the planning team" and promoted.audit_id
    assert [(d.strategy, d.to_version) for d in card.deploys] == [("blue-green", "1.0.0")]
    assert card.aliases == ["production"] and card.not_recorded == []


def test_the_time_span_of_a_random_split_is_of_all_its_rows(home: Home) -> None:
    """A random or stratified holdout is drawn from the whole span: the first training
    row to the last holdout row, right for a time split, cut the span short."""
    data = home.card.training_data.model_copy(update={"split": "stratified", "time_range": {
        "column": "ts", "train": ["2011-01-01T00:00:00", "2011-12-31T23:00:00"],
        "holdout": ["2011-01-02T05:00:00", "2011-12-30T17:00:00"]}})
    card = home.card.model_copy(update={"training_data": data})
    assert card_facts.time_span(card) == "2011-01-01 to 2011-12-31"
    assert card_facts.time_span(home.card) == "2011-01-01 to 2011-12-31"  # a time split


def test_the_html_card_reads_with_no_network_and_escapes_every_string(home: Home) -> None:
    page = parse(home.html)
    text = " ".join(" ".join(page.text).split())
    for figure in main_figures(home.card):
        assert figure in text, figure
    assert HOSTILE_TEXT in text and HOSTILE_VALUE in text, "user strings shown as text"
    assert "script" not in page.tags, "no script: neither ours nor one smuggled in a value"
    assert "<script>alert" not in home.html and "&lt;script&gt;alert(" in home.html
    assert page.tags.count("svg") >= 6, "metric, 3 slices, importance, curve"
    assert not [link for link in page.links if link.startswith(("http:", "https:", "//"))]
    assert "http://" not in home.html and "https://" not in home.html
    for title in ("Intended use", "Assumptions", "Limitations", "Metrics on the holdout",
                  "Slices", "Feature importance", "Training data", "Lineage",
                  "Approvals and decisions", "Deploy history"):
        assert title in text, title
    assert "reviewed by the planning team" in text and "blue-green" in text
    assert "1,729 holdout rows (time split)" in text  # was 'split by time' ('by stratified')


def test_the_markdown_card_has_the_same_sections_as_tables(home: Home) -> None:
    md = home.markdown
    for figure in main_figures(home.card):
        assert figure.replace("_", "\\_") in md, figure
    assert "<script" not in md and "&lt;script&gt;alert(" in md
    assert "| clear |" in md and "### By weathersit" in md
    assert md.count("\n|---") >= 8, "metrics, slices, importance, data, lineage, …"
    # A slice's metric columns in the holdout table's order: the headline first.
    holdout = [m.name for m in home.card.metrics]
    assert holdout[0] == home.card.headline
    header = next(line for line in md.splitlines() if line.startswith("| weathersit |"))
    assert [c.strip() for c in header.strip("|").split("|")][2:-1] == [
        n for n in holdout if n in home.card.slices[0].groups[0].metrics]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no headless browser here: "
                    "apt-get install chromium")
def test_the_card_renders_in_a_headless_browser(home: Home, tmp_path: Path) -> None:
    card = home.out / "card.html"
    common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([str(CHROMIUM), *common, "--dump-dom", card.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = parse(dom.stdout)
    text = " ".join(" ".join(page.text).split())
    for figure in main_figures(home.card):
        assert figure in text, figure
    assert "script" not in page.tags and page.tags.count("svg") >= 6
    shot = home.out / "card.png"
    taken = subprocess.run([str(CHROMIUM), *common, f"--screenshot={shot}",
                            "--window-size=1200,3000", card.as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]


def test_runs_compare_writes_a_page_of_both_runs(home: Home) -> None:
    first, second = home.runs
    target = home.out / "compare.html"
    written = run_mlops(home.d.home.root, "runs", "compare", first[:10], second[:10], "--html",
                        str(target))
    assert written.returncode == 0, written.stdout + written.stderr
    html = target.read_text()
    page = parse(html)
    text = " ".join(" ".join(page.text).split())
    assert first[:8] in text and second[:8] in text and "bikes@1" in text
    assert "rounds 8 12 differs" in text, "params side by side, the difference marked"
    assert "rmse" in text and page.tags.count("svg") >= 1, "curves on shared axes"
    assert "script" not in page.tags and "http://" not in html and "https://" not in html


def test_cards_of_a_binary_and_a_multiclass_model(home: Home, bike: pl.DataFrame,
                                                  tmp_path: Path) -> None:
    """`busy` (binary, sliced by season: a confusion matrix, auc per season) and `sky`
    (multiclass, no [model.card]: no slices, never deployed) have cards as readable."""
    client = home.d.client
    assert client is not None
    # heavy rain/snow is one row of the year: too few to hold out a share of
    bike.filter(pl.col("weathersit") != "heavy rain/snow").write_csv(tmp_path / "sky.csv")
    client.upload("sky", tmp_path / "sky.csv")
    wait_until(lambda: len(client.list_versions("sky")) >= 1, timeout=60, what="sky@1")
    for model, headline, found in (("busy", "auc", "predicted positive"),
                                   ("sky", "log_loss", "No slice columns declared")):
        trained = run_mlops(home.d.home.root, "train", model, "--wait", timeout=300)
        assert trained.returncode == 0, trained.stdout + trained.stderr
        card = client.model_card(model, "1.0.0")
        head = next(m for m in card.metrics if m.name == card.headline)
        assert card.headline == headline and head.low is not None and head.high is not None
        assert card.deploys == [] and card.not_recorded == []
        written = run_mlops(home.d.home.root, "models", "card", f"{model}:1.0.0", "--html",
                            str(tmp_path / f"{model}.html"), "--md", str(tmp_path / f"{model}.md"))
        assert written.returncode == 0, written.stdout + written.stderr
        text = " ".join(" ".join(parse((tmp_path / f"{model}.html").read_text()).text).split())
        for figure in (f"{number(head.low)} to {number(head.high)}", number(head.value),
                       found, "Never deployed."):
            assert figure in text, (model, figure)
        assert f"{number(head.low)} to {number(head.high)}" in (tmp_path / f"{model}.md"
                                                                ).read_text()
    busy = client.model_card("busy", "1.0.0")
    # the time split holds out late October to December: autumn (4) and winter (1) from the
    # 21st; the card names only seasons the holdout has
    assert busy.slices and {g.value for g in busy.slices[0].groups} == {"1", "4"}
    assert busy.other_metrics["confusion_matrix"]


def test_a_version_without_an_evaluation_says_not_recorded(home: Home, tmp_path: Path
                                                           ) -> None:
    client = home.d.client
    assert client is not None
    assert bikes.log(client, bikes.train(rounds=5), "legacy") == "1.0.0"
    card = client.model_card("legacy", "1.0.0")
    assert card.interval is None and card.slices is None and card.importance is None
    for option, name in (("--html", "legacy.html"), ("--md", "legacy.md")):
        written = run_mlops(home.d.home.root, "models", "card", "legacy:1.0.0", option,
                            str(tmp_path / name))
        assert written.returncode == 0, written.stderr
        assert "not recorded for this version" in (tmp_path / name).read_text()


def test_a_slice_that_is_not_a_column_is_refused_naming_the_line(home: Home) -> None:
    text = config(12).replace('slices = ["weathersit", "temp", "season"]',
                              'slices = ["weathersit", "tmep"]')
    home.d.home.config.write_text(text)
    try:
        home.d.client.reload()  # type: ignore[union-attr]
        refused = run_mlops(home.d.home.root, "train", "riders")
        line = text.splitlines().index('slices = ["weathersit", "tmep"]') + 1
        assert refused.returncode == 1
        assert f"mlops.toml:{line}: model.card.slices: 'tmep' is not a column of bikes@1" \
            in refused.stderr, refused.stderr
    finally:
        home.d.home.config.write_text(config(12))
        home.d.client.reload()  # type: ignore[union-attr]


def test_card_usage_errors_are_one_line(home: Home, tmp_path: Path) -> None:
    root = home.d.home.root
    for argv, message in (
            (["models", "card", "riders:1.0.0"], "--html FILE and/or --md FILE"),
            (["models", "card", "riders", "--md", str(tmp_path / "c.md")], "NAME:VERSION"),
            (["models", "card", "riders:1.0.0", "--html", str(tmp_path / "no" / "c.html")],
             f"the folder {tmp_path / 'no'} does not exist"),
            # each was put in the request's path as it was: a query, a fragment or another
            # endpoint's path, and the reply of another endpoint a traceback
            (["models", "card", "riders:1.0.0?x=1", "--md", str(tmp_path / "c.md")],
             "got 'riders:1.0.0?x=1'"),
            (["models", "card", "riders:1.0.0#x", "--md", str(tmp_path / "c.md")],
             "got 'riders:1.0.0#x'"),
            (["models", "card", "riders:1.0.0/../1.0.1", "--md", str(tmp_path / "c.md")],
             "NAME:VERSION"),
            (["models", "card", "a/b:1.0.0", "--md", str(tmp_path / "c.md")], "NAME:VERSION")):
        result = run_mlops(root, *argv)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    unknown = run_mlops(root, "models", "card", "riders:9.9.9", "--md", str(tmp_path / "c.md"))
    assert unknown.returncode == 1 and "no version '9.9.9'" in unknown.stderr, unknown.stderr
    assert not (tmp_path / "c.md").exists(), "nothing written for a version that is not there"
    client = home.d.client
    assert client is not None
    with pytest.raises(BadPathName, match=r"'1\.0\.0\?x=1' cannot be a name or id"):
        client.model_card("riders", "1.0.0?x=1")  # the client's own callers: never sent
