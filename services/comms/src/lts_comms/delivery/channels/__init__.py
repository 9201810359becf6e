"""The channels: mail over SMTP, chat incoming webhooks, generic webhooks (signed CloudEvents).
`Channels.send` hands one delivery to its channel and returns what the channel answered; it
never raises for a channel's failure (that is the delivery's outcome, decided in `domain`)."""

from __future__ import annotations

import asyncio

import httpx
from lts_events.contracts.comms.delivery import Channel, DeliveryTarget
from lts_events.contracts.comms.documents import DocumentReleased

from lts_comms.delivery.channels import chat, email, webhook
from lts_comms.delivery.config import ChatHook, DeliverySettings, SignedHook
from lts_comms.delivery.outcome import Rejected, SendResult, error_result


class Channels:
    def __init__(self, settings: DeliverySettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._chat: dict[str, ChatHook] = {hook.name: hook for hook in settings.chat_webhooks}
        self._hooks: dict[str, SignedHook] = {hook.name: hook for hook in settings.webhooks}

    async def send(
        self, released: DocumentReleased, target: DeliveryTarget, key: str
    ) -> SendResult:
        """Send `released` to `target` carrying the idempotency `key`, within the send timeout
        (a send that takes longer is a transient failure, so a hung channel holds up the
        others for at most that long)."""
        try:
            async with asyncio.timeout(self._settings.send_timeout_seconds):
                return await self._send(released, target, key)
        except TimeoutError as error:
            return error_result(error)

    async def _send(
        self, released: DocumentReleased, target: DeliveryTarget, key: str
    ) -> SendResult:
        settings = self._settings
        if target.channel is Channel.EMAIL:
            message = email.mail_message(
                released, sender=settings.mail_from, recipient=target.recipient, message_id=key
            )
            return await email.send_mail(
                message,
                host=settings.smtp_host,
                port=settings.smtp_port,
            )
        if target.channel is Channel.WEBHOOK:
            hook = self._hooks.get(target.recipient)
            if hook is None:
                return Rejected(
                    f"no webhook named {target.recipient!r} is configured", transient=False
                )
            return await webhook.post_cloudevent(self._http, hook, released, key=key)
        chat_hook = self._chat.get(target.recipient)
        if chat_hook is None:
            return Rejected(
                f"no chat webhook named {target.recipient!r} is configured", transient=False
            )
        return await chat.post(self._http, chat_hook, released, key=key)
