"""The bounded contexts, one package each: `<name>/service.py` holds the context's
application (its command handlers), and `<name>/__init__.py` declares the context
(`CONTEXT`, a `services.context.Context`) for the registry (`services/registry.py`).
A context's aggregates live in `domain/<name>.py` and its published events in
`infrastructure/contracts/<name>.py`; `orders new-context` writes all of them for a new one."""
