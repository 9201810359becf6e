"""A Prometheus HTTP API client for the analysis: one instant query (`/api/v1/query`)."""

from __future__ import annotations

import httpx

from lts_release.rollout.readings import query_value


class Prometheus:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    async def value(self, query: str) -> tuple[float | None, str]:
        """The query's first sample, or None and why (unreachable, an error, no data)."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    f"{self._base_url}/api/v1/query", data={"query": query}
                )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return None, f"prometheus unreachable: {type(error).__name__}: {error}"[:500]
        if not isinstance(body, dict):
            return None, f"prometheus answered HTTP {response.status_code} without a JSON object"
        return query_value(body)
