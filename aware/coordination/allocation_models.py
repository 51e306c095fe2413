"""The AWARE allocation workflow: application, decision, device, support, term, ending."""
