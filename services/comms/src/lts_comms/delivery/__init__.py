"""The delivery side of the comms service: the outbox that turns a released revision into one
delivery per (revision, channel, recipient), the channels (mail, chat, generic webhook), and
the feeds of released documents. `domain` and `policy` decide; `outbox` and `channels` do I/O."""
