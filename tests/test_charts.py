"""The SVG charts of the GAN and DDPM tabs: round ticks, one line per series, labelled bars, valid SVG."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from gen.ui import charts

SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_are_round_and_cover_the_range():
    assert charts.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.ticks(0, 300) == [0, 50, 100, 150, 200, 250, 300]
    assert charts.ticks(-3.9, 3.9) == [-2, 0, 2]
    assert charts.ticks(5, 5) == [5]


def test_lines_draw_each_series_inside_the_box_with_legend_and_title():
    svg = charts.lines({"D loss": [(1, 0.5), (2, 0.3), (3, 0.2)], "G loss": [(1, 3.0), (3, 4.0)]}, "history", "epoch",
                       colors={"D loss": "#d62728"})
    root = ET.fromstring(svg)
    lines = root.findall(f"{SVG}polyline")
    assert [p.find(f"{SVG}title").text for p in lines] == ["D loss", "G loss"]
    assert lines[0].get("stroke") == "#d62728"
    for p in lines:
        for xy in p.get("points").split():
            x, y = map(float, xy.split(","))
            assert charts.LEFT <= x <= charts.W - charts.RIGHT and charts.TOP <= y <= charts.H - charts.BOTTOM
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "history" in texts and "epoch" in texts and "G loss" in texts


def test_bars_label_every_class_and_value_and_escape_text():
    svg = charts.bars({"0": 0.1, "T-shirt & top": 0.25}, "classes <of> samples", "class")
    root = ET.fromstring(svg)  # parses: '&' and '<' are escaped
    assert len(root.findall(f"{SVG}rect")) == 2
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "0.25" in texts and "T-shirt &" in texts and "classes <of> samples" in texts


def test_nothing_to_draw_says_so():
    assert "nothing to show" in charts.lines({}, "curves", "epoch")
    assert "nothing to show" in charts.bars({}, "classes", "class")
