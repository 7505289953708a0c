"""The metric names a PromQL expression reads, and whether a service's /metrics exports them.

metric_names('sum by (job) (rate(cqrs_messages_handled_total{queue="q"}[5m])) > 0')
    == {"cqrs_messages_handled_total"}

Not a parser: strings, label matchers, ranges and grouping clauses are cut out, then every word that
is not followed by "(" (a function or an aggregation) and is not a keyword is a metric name. A name
given only as {__name__="..."} is not found; the dashboard and the rules use none.
"""

import re

from prometheus_client.parser import text_string_to_metric_families

KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
# Series that Prometheus makes for every target, not a service.
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLE = re.compile(r"\$\{?\w+\}?")  # Grafana's $__rate_interval, ${datasource}
_WORD = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` reads (functions, keywords and label names left out)."""
    text = _STRING.sub('""', expr)
    text = _VARIABLE.sub("", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {
        match.group(1)
        for match in _WORD.finditer(text)
        if match.group(2) is None and match.group(1) not in KEYWORDS
    }


def exported_names(exposition: str) -> tuple[set[str], set[str]]:
    """(every name a query may use, the histograms' names) of a /metrics text.

    A family counts when it is declared, samples or not: a labelled metric has none before its first
    use. A counter is queried as <name>_total, a histogram as <name>_bucket, _count and _sum.
    """
    names: set[str] = set()
    histograms: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            histograms.add(family.name)
    return names, histograms


def is_exported(name: str, names: set[str], histograms: set[str]) -> bool:
    """Whether ``name`` as a query uses it is among ``exported_names``'s."""
    if name in names:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in histograms for s in HISTOGRAM_SUFFIXES)
