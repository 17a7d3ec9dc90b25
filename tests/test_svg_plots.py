"""The report charts (`mlopsd.cli.svg_plots`) as a reader's eye takes them: lengths that
mean something, ticks where the eye looks for them. Read from the SVG's elements."""

from __future__ import annotations

from html.parser import HTMLParser

from mlopsd.cli.svg_plots import Bar, hbar_chart, line_chart, nice_ticks


class _Shapes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.shapes.append((tag, {k: v or "" for k, v in attrs}))


def shapes(svg: str, tag: str, css: str) -> list[dict[str, str]]:
    parser = _Shapes()
    parser.feed(svg)
    return [a for t, a in parser.shapes if t == tag and css in a.get("class", "").split()]


def test_values_far_from_zero_are_points_not_bars_from_the_axis_end() -> None:
    # rmse 81.1 on the holdout, 84.11 on the training rows: bars from the axis's end at 78
    # drew the second twice as long as the first, for a 4% difference
    chart = hbar_chart([Bar("holdout", 81.1, 78.23, 83.76), Bar("training rows", 84.11,
                                                                   muted=True)],
                       title="rmse", x_title="rmse (lower is better)")
    assert not shapes(chart, "rect", "bar")
    holdout, train = shapes(chart, "circle", "dot")
    assert float(holdout["cx"]) < float(train["cx"])
    assert "muted" in train["class"] and len(shapes(chart, "line", "whisker")) == 3


def test_values_from_zero_are_bars_as_long_as_they_are() -> None:
    chart = hbar_chart([Bar("hr", 60.0), Bar("temp", 20.0), Bar("season", 0.0)],
                       title="share of gain", x_title="%")
    hr, temp, season = shapes(chart, "rect", "bar")
    assert not shapes(chart, "circle", "dot")
    assert float(hr["x"]) == float(temp["x"]) == float(season["x"])
    assert abs(float(hr["width"]) - 3 * float(temp["width"])) < 0.5  # to a tenth each


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_boosting_rounds_get_a_tick_every_whole_step() -> None:
    # 10 rounds: steps of 2.5 were cut to the whole ones, leaving ticks at 5 and 10 only
    assert nice_ticks(1, 10, whole=True) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(1, 300, whole=True) == [0, 100, 200, 300]
    assert nice_ticks(1, 3, whole=True) == [1, 2, 3]
    chart = line_chart([("holdout", [float(10 - i) for i in range(10)])], title="rmse",
                       x_title="boosting round", y_title="rmse")
    parser = _Texts()
    parser.feed(chart)
    assert {"2", "4", "6", "8", "10"} <= set(parser.texts)
