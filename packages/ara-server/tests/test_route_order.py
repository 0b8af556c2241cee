"""Route order: the hot runtime routes are tried first, and no two routes can match the same
request, so the order changes only the cost of matching, never which route answers."""

from __future__ import annotations

import itertools

from ara_server import Settings, create_app
from starlette.routing import Match, Route


def _served(settings: Settings) -> list[Route]:
    routes = create_app(settings).routes
    assert all(isinstance(route, Route) for route in routes)
    return [route for route in routes if isinstance(route, Route)]


def _segments(path: str) -> list[str | None]:
    """The path's segments; `None` for a parameter (it matches any one segment)."""
    return [None if "{" in part else part for part in path.strip("/").split("/")]


def _may_overlap(a: str, b: str) -> bool:
    """Whether some concrete path matches both patterns (a `:path` parameter matches anything)."""
    if ":path}" in a or ":path}" in b:
        return True
    sa_, sb = _segments(a), _segments(b)
    return len(sa_) == len(sb) and all(x is None or y is None or x == y for x, y in zip(sa_, sb, strict=True))


def test_no_two_routes_match_one_request(settings: Settings) -> None:
    routes = _served(settings)
    clashes = [
        (a.path, b.path, sorted((a.methods or set()) & (b.methods or set())))
        for a, b in itertools.combinations(routes, 2)
        if (a.methods or set()) & (b.methods or set()) and _may_overlap(a.path, b.path)
    ]
    assert clashes == []


def test_every_route_answers_its_own_requests_first(settings: Settings) -> None:
    """A concrete request of each route (parameters filled in) fully matches that route first."""
    routes = _served(settings)
    for route in routes:
        path = "/".join("sample-value" if "{" in part else part for part in route.path.split("/"))
        for method in sorted(route.methods or {"GET"}):
            scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
            first = next(r for r in routes if r.matches(scope)[0] is Match.FULL)
            assert first is route, (method, path, first.path)


def test_hot_routes_come_first(settings: Settings) -> None:
    paths = [(route.path, sorted(route.methods or ())) for route in _served(settings)]
    hot = [
        ("/v1/apps/{app_id}/events", "POST"),
        ("/v1/apps/{app_id}/run", "POST"),
        ("/v1/apps/{app_id}/runs", "POST"),
        ("/v1/apps/{app_id}/runs/{run_id}", "GET"),
        ("/healthz", "GET"),
    ]
    for path, method in hot:
        index = next(i for i, (p, methods) in enumerate(paths) if p == path and method in methods)
        assert index < 10, (path, index)
    assert paths[-1][0] == "/openapi.json"
