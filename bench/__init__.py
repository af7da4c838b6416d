"""lairchat's benchmark suite (issue 8): ``python -m bench``; see docs/performance.md."""
