"""``ops`` commands that live outside ``ops/cli.py``, one module per area, each with a
``register(app, sandbox_app)`` that ``ops.cli`` calls."""
