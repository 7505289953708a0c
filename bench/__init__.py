"""The programs that measure the pair: make bench, make bench-scale, make bench-keepup
(docs/performance.md)."""
