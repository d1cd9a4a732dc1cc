"""Manual runbooks: what the automation does, by hand, with the same plan/apply model.

``GET runbooks/{name}`` plans, ``POST`` applies (see :mod:`ops.runbooks.service`);
each capability's runbooks are in its own module (``purging``, ``gating``,
``scheduling``), registered in :mod:`ops.runbooks.catalog`.
"""
