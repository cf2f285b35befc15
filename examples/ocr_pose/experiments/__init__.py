"""One-off measurement scripts whose numbers appear in docs/results.md."""
