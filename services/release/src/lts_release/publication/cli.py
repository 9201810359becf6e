"""`lts release publish` and `lts release withdraw`: the publication routes from a terminal
or CI. Publishing again is safe: it answers the same release and sends nothing; a 503 means
a channel is away (publish again later)."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from lts_release.staging.cli import DEFAULT_URL, TIMEOUT, Token, Url

TRANSIENT_EXIT = 75  # EX_TEMPFAIL: try again later


def register(app: typer.Typer) -> None:
    app.command()(publish)
    app.command()(withdraw)


def publish(
    candidate: Annotated[str, typer.Argument(help="Candidate id (sealed).")],
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Publish a sealed candidate to the package index and the release page; prints the
    version, the release page and each artifact's URLs."""
    response = _post(url, token, f"/candidates/{candidate}/publish", None)
    released = response.json()
    fresh = "published" if response.status_code == 201 else "already published"
    typer.echo(f"{released['version']} {fresh}: {released.get('release_page_url') or ''}")
    for artifact in released["artifacts"]:
        if artifact["kind"] == "artifact":
            for channel, link in sorted(artifact["urls"].items()):
                typer.echo(f"  {artifact['name']}  sha256:{artifact['sha256']}  {channel}: {link}")


def withdraw(
    candidate: Annotated[str, typer.Argument(help="Candidate id (published).")],
    reason: Annotated[str, typer.Option(help="Why, shown on the release page.")],
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Yank the published version where a channel can, mark it unsafe elsewhere."""
    response = _post(url, token, f"/candidates/{candidate}/withdraw", {"reason": reason})
    for outcome in response.json():
        typer.echo(f"{outcome['channel']}: {outcome['outcome']}")


def _post(url: str, token: str, path: str, body: dict[str, str] | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT) as client:
            response = client.post(path, json=body)
    except httpx.TransportError as error:
        typer.echo(f"FAILED: the release service at {url} is unreachable ({error})", err=True)
        raise typer.Exit(TRANSIENT_EXIT) from None
    if response.is_success:
        return response
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    typer.echo(f"FAILED {path}: {response.status_code} {detail}", err=True)
    raise typer.Exit(TRANSIENT_EXIT if response.status_code == 503 else 1)
