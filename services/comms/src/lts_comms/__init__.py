"""LTS Flow comms service: release notes, security advisories under embargo and internal status,
drafted from events, reviewed, and delivered to real channels through an outbox."""
