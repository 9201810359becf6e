"""Where the local infrastructure keeps its jars, data and state: outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

KAFKA_VERSION = "4.1.1"
"""The pinned Apache Kafka release started locally (Maven Central `org.apache.kafka:kafka_2.13`)."""


def lts_home() -> Path:
    """`LTS_HOME` if set, else `~/.cache/lts-flow`."""
    configured = os.environ.get("LTS_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "lts-flow"


def kafka_libs_dir() -> Path:
    return lts_home() / f"kafka-{KAFKA_VERSION}" / "libs"


def run_dir() -> Path:
    return lts_home() / "run"


def maildir() -> Path:
    """Where the local SMTP server stores every message it accepts (a maildir)."""
    return lts_home() / "mail"
