"""The A/B comparison's statistics (`verdicts`), figures (`figures`) and report (`render`)."""
