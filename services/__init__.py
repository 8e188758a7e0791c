"""Application services: one eventsourcing Application per bounded context, the composition
root, and the command-line entry points."""
