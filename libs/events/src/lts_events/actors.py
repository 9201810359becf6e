"""Who caused an event: the roles of the LTS process and the actor carrying one of them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    REQUESTER = "requester"
    TRIAGE_ENGINEER = "triage_engineer"
    MAINTAINER = "maintainer"
    CODE_REVIEWER = "code_reviewer"
    QA = "qa"
    SECURITY_REVIEWER = "security_reviewer"
    RELEASE_MANAGER = "release_manager"
    SRE = "sre"
    COMMUNICATIONS_LEAD = "communications_lead"
    ENGINEERING_LEAD = "engineering_lead"
    PRODUCT_OWNER = "product_owner"
    ANALYST = "analyst"
    AUTOMATION = "automation"


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    role: Role


def automation(service: str) -> Actor:
    """The actor for decisions a service takes on its own."""
    return Actor(id=f"lts-{service}", role=Role.AUTOMATION)
