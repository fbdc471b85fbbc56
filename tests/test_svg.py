"""report.figures.svg: dropping matplotlib's id-only groups leaves every drawn element with the same
effective attributes (what its ancestors transform, clip and style), in the same order."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from report.figures.registry import BY_NAME
from report.figures.svg import matplotlib_svg, without_bare_groups
from tests.fixtures.make_fixture import fixture_results, make_evals

SVG_NS = "{http://www.w3.org/2000/svg}"


def _drawn(svg: str) -> list[tuple[str, dict, list[dict]]]:
    """Each element other than <g>, in document order: its tag, its attributes and those of the
    groups around it that do something (an id alone does nothing)."""
    out = []

    def walk(node: ET.Element, context: list[dict]) -> None:
        for child in node:
            if child.tag == SVG_NS + "g":
                effect = {k: v for k, v in child.attrib.items() if k != "id"}
                walk(child, context + [effect] if effect else context)
            else:
                out.append((child.tag, dict(child.attrib), context))
                walk(child, context)

    walk(ET.fromstring(svg.encode()), [])
    return out


def _raw_svg(name: str) -> str:
    results = fixture_results()
    draw, needs_evals = BY_NAME[name]
    return matplotlib_svg(draw(results, make_evals(results)) if needs_evals else draw(results))


@pytest.mark.parametrize("name", ["reliability", "gradcam_compare"])
def test_a_figure_draws_the_same_elements_in_the_same_context(name):
    raw = _raw_svg(name)
    light = without_bare_groups(raw)
    assert light.count("<g") < raw.count("<g") / 2, "most of matplotlib's groups only carry an id"
    assert _drawn(light) == _drawn(raw)


def test_groups_that_do_something_or_are_referenced_stay():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        ' <g id="figure">\n'
        '  <g id="moved" transform="translate(1 2)">\n'
        "   <g>\n"
        '    <path id="p" d="M 0 0 L 1 1"/>\n'
        "   </g>\n"
        "  </g>\n"
        '  <g id="target">\n'
        '   <path d="M 0 0 L 2 2"/>\n'
        "  </g>\n"
        '  <g id="clipped" clip-path="url(#c)"><path d="M 1 1"/></g>\n'
        '  <g id="empty"/>\n'
        '  <use xlink:href="#target"/>\n'
        " </g>\n"
        "</svg>\n"
    )
    light = without_bare_groups(svg)
    assert '<g id="figure">' not in light and "<g>" not in light
    for kept in ('<g id="moved" transform="translate(1 2)">', '<g id="target">', 'clip-path="url(#c)"'):
        assert kept in light
    assert _drawn(light) == _drawn(svg)
    assert '\n    <path id="p"' in light, "a dropped tag takes its own line with it"


@pytest.mark.parametrize("broken", ["<svg><g></svg>", "<svg></g></svg>"])
def test_unbalanced_groups_are_an_error(broken):
    with pytest.raises(ValueError, match="<g>"):
        without_bare_groups(broken)


def test_every_label_has_a_sans_serif_fallback():
    from report.figures.svg import FONT_STACK, with_font_stack

    svg = """<text style="font-family: 'DejaVu Sans'; font-size: 7px">a</text>"""
    assert with_font_stack(svg) == f'<text style="font-family: {FONT_STACK}; font-size: 7px">a</text>'
    assert FONT_STACK.endswith("sans-serif")
