"""The append-only audit log: who saw or did what, when, and for which purpose."""
