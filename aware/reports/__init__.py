"""Municipality review: aggregate figures on AWARE allocation, never identities."""
