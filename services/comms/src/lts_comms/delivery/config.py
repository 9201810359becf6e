"""Settings of the delivery side (`LTS_COMMS_*`): where mail goes and from whom, the chat and
generic webhooks, the retry policy. Lists and objects are JSON in the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from lts_events.contracts.comms.documents import Audience, DocumentKind
from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_comms.delivery.policy import RetryPolicy

ChatFlavour = Literal["slack", "mattermost", "teams"]


class Hook(BaseModel):
    """A configured webhook: its name (what deliveries record), URL, audience and, optionally,
    the document kinds it takes (all when empty)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str
    audience: Audience = Audience.INTERNAL
    kinds: tuple[DocumentKind, ...] = ()


class ChatHook(Hook):
    """A chat incoming webhook: Slack, Mattermost, or a Microsoft Teams Workflows URL."""

    flavour: ChatFlavour


class SignedHook(Hook):
    """A generic webhook receiving the document as a structured CloudEvent, signed with
    HMAC-SHA256 under `secret` (header `X-LTS-Signature-256: sha256=<hex>`)."""

    secret: SecretStr


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LTS_COMMS_",
        frozen=True,
        use_attribute_docstrings=True,
        extra="ignore",
        populate_by_name=True,
    )

    smtp_host: str = "localhost"
    """SMTP server for mail (`lts infra up` exports its local aiosmtpd's)."""
    smtp_port: int = 25
    """Port of the SMTP server."""
    mail_from: str = "LTS Flow <lts-flow@example.org>"
    """The From of every mail."""
    mail_domain: str = "lts.example.org"
    """The right-hand side of the deterministic Message-IDs."""
    mail_lists: dict[DocumentKind, tuple[str, ...]] = {}
    """Mail recipients per document kind, e.g. `{"release_note": ["users@lists.example.org"]}`."""
    chat_webhooks: tuple[ChatHook, ...] = ()
    """Chat incoming webhooks: `[{"name", "url", "flavour": "slack"|"mattermost"|"teams",
    "audience": "internal"|"external", "kinds": [...]}]`."""
    webhooks: tuple[SignedHook, ...] = ()
    """Generic webhooks (signed CloudEvents): `[{"name", "url", "secret", "audience", "kinds"}]`."""
    send_timeout_seconds: float = 10.0
    """How long one send may take before it counts as a transient failure."""
    delivery_max_attempts: int = 5
    """Tries per delivery before it gives up."""
    delivery_retry_base_seconds: float = 30.0
    """Wait after the first failed try; doubled after each further one."""
    delivery_retry_max_seconds: float = 3600.0
    """The longest wait between two tries."""
    public_url: str = "http://localhost:8004"
    """Where the service is reached from outside: the feeds' and OSV links start with it."""
    maildir: Path | None = None
    """The maildir `lts comms outbox` reads (default: the local SMTP server's, `$LTS_HOME/mail`)."""

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.delivery_max_attempts,
            base_delay=timedelta(seconds=self.delivery_retry_base_seconds),
            max_delay=timedelta(seconds=self.delivery_retry_max_seconds),
        )
