"""LTS Flow release service: gates from real CI results, signed release candidates with SBOMs,
publication to a package index and a release page, staged rollout and automatic rollback."""
