"""Results tables -> summaries -> figures -> Markdown/HTML report, and the CI gate's statistics."""

from __future__ import annotations
