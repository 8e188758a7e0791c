"""`orders demo`: drive orders through all four contexts, sending every command more than
once (some copies concurrently), then check the invariants by reading the stores."""
