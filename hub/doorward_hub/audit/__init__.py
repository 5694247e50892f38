"""The audit log: every request, answer, share, view and deletion, append-only and hash-chained
(DESIGN.md, privacy invariant 8)."""
