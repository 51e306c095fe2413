"""The scheduler lease: exactly one active `aware scheduler`."""
