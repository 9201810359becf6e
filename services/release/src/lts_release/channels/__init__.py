"""Publication channels: the `Channel` protocol (`base`) and its implementations, the package
index over the legacy upload API (`package_index`) and the downloadable release page
(`release_page`)."""
