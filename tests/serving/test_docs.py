"""The documentation pages work offline: every asset they reference comes from the server."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.serving.conftest import models_with

EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


class _Refs(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value for name, value in attrs if name in ("src", "href") and value]


def _refs(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    # The page's script loads the OpenAPI document by URL too.
    return (
        parser.refs + re.findall(r"url: ?'([^']+)'", html) + re.findall(r'spec-url="([^"]+)"', html)
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_and_its_assets_come_from_the_server(tmp_path, client_for, page) -> None:
    client = client_for(models_with(tmp_path))
    response = client.get(page)
    assert response.status_code == 200
    refs = _refs(response.text)
    assert len(refs) >= 2, refs  # a stylesheet or script, and the OpenAPI document
    external = [ref for ref in refs if EXTERNAL.match(ref)]
    assert not external, f"{page} loads from outside the server: {external}"
    assert not re.search(r"https?://", response.text), "no absolute URL anywhere in the page"
    for ref in refs:
        path = urlsplit(ref).path
        asset = client.get(path)
        assert asset.status_code == 200, (page, ref)
        assert asset.content, ref
        if path.endswith(".css"):
            urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.text)
            assert not [u for u in urls if EXTERNAL.match(u)], f"{ref} pulls in outside assets"
