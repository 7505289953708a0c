"""The one reader of a service's /metrics, for the tests and the benchmarks.

await metric(service.url, "cqrs_messages_handled_total", outcome="accepted")
"""

from collections import Counter

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


async def exposition(base_url: str, session: aiohttp.ClientSession | None = None) -> str:
    """The text ``base_url``/metrics answers (an error status raises aiohttp.ClientResponseError)."""
    if session is None:
        async with aiohttp.ClientSession() as own:
            return await exposition(base_url, own)
    async with session.get(f"{base_url}/metrics") as response:
        response.raise_for_status()
        return await response.text()


def total(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def by_label(text: str, name: str, label: str) -> Counter[str]:
    """``name``'s samples summed by the value of ``label``."""
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[sample.labels[label]] += int(sample.value)
    return found


async def metric(base_url: str, name: str, **labels: str) -> float:
    """``total`` of what ``base_url``/metrics answers now."""
    return total(await exposition(base_url), name, **labels)
