"""page_plan equals the plan of main 737bd70 (kept here as the oracle) on random decisions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from target_middleware.decisions import DEFAULT_HTML_SELECTOR, PagePlan, page_plan
from target_middleware.delivery.models import Action, MboxResult, Metric, MetricType, Option, OptionType, PageLoadResult
from target_middleware.tracking import click_metrics


def old_page_plan(result: Any, html_selectors: Any, global_mbox: str, *, page_load_clicks: bool = True) -> PagePlan:
    plan = PagePlan()
    sections: list[Any] = []
    if result.page_load is not None:
        metrics = result.page_load.metrics if page_load_clicks else ()
        sections.append((global_mbox, result.page_load.options, metrics, True))
    sections.extend((m.name, m.options, m.metrics, False) for m in result.mboxes)
    for name, options, metrics, page_load in sections:
        for i, option in enumerate(options):
            if option.type is OptionType.REDIRECT and isinstance(option.content, str):
                return PagePlan(redirect=option.content)
            if option.type is OptionType.ACTIONS:
                for j, a in enumerate(option.content):
                    plan.actions.append(
                        {"type": a.type, "selector": a.selector, "cssSelector": a.css_selector, "content": a.content}
                    )
                    plan.origins.append((i, j) if page_load else None)
            elif option.type is OptionType.HTML:
                selector = html_selectors.get(name, DEFAULT_HTML_SELECTOR)
                plan.actions.append({"type": "setHtml", "selector": selector, "content": option.content})
                plan.origins.append((i, -1) if page_load else None)
        for metric in metrics:
            if metric.type is MetricType.CLICK and metric.selector and metric.event_token:
                plan.actions.append({"type": "click", "selector": metric.selector, "eventToken": metric.event_token})
                plan.origins.append(None)
    return plan


WORDS = st.sampled_from(["", "#a", "B", "hero", "https://x.example/"])
ACTIONS = st.builds(Action, WORDS, st.none() | WORDS, st.none() | WORDS, st.none() | WORDS | st.just({"k": 1}))
OPTIONS = st.one_of(
    st.builds(Option, st.just(OptionType.ACTIONS), st.lists(ACTIONS, max_size=3).map(tuple), st.none(), st.just({})),
    st.builds(
        Option,
        st.sampled_from([t for t in OptionType if t is not OptionType.ACTIONS]),
        st.none() | WORDS | st.just([1]),
        st.none(),
        st.just({}),
    ),
)
METRICS = st.builds(Metric, st.sampled_from(list(MetricType)), st.none() | WORDS, st.none() | WORDS)
OPTION_LISTS, METRIC_LISTS = st.lists(OPTIONS, max_size=3).map(tuple), st.lists(METRICS, max_size=3).map(tuple)
RESULTS = st.builds(
    SimpleNamespace,
    page_load=st.none() | st.builds(PageLoadResult, OPTION_LISTS, METRIC_LISTS),
    mboxes=st.lists(st.builds(MboxResult, st.sampled_from(["hero", "side"]), st.none(), OPTION_LISTS, METRIC_LISTS)),
)


@settings(max_examples=500)
@given(result=RESULTS, clicks=st.booleans(), selectors=st.sampled_from([{}, {"hero": "#hero"}, {"g": "main"}]))
def test_the_plan_is_the_old_plan(result: Any, clicks: bool, selectors: dict[str, str]) -> None:
    assert page_plan(result, selectors, "g", page_load_clicks=clicks) == old_page_plan(
        result, selectors, "g", page_load_clicks=clicks
    )


def old_click_metrics(result: Any, global_mbox: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    sections = [(global_mbox, result.page_load.metrics)] if result.page_load is not None else []
    sections += [(m.name, m.metrics) for m in result.mboxes]
    for mbox, metrics in sections:
        for metric in metrics:
            if metric.type is MetricType.CLICK and metric.selector and metric.event_token:
                found.append((metric.event_token, mbox))
    return found


@settings(max_examples=300)
@given(result=RESULTS)
def test_the_click_metrics_are_the_old_ones(result: Any) -> None:
    assert click_metrics(result, "g") == old_click_metrics(result, "g")
