"""The image-push scanning gate (the ``gate`` capability): nothing unscanned or unsigned is pullable.

``policy`` validates the YAML rules, ``evidence`` holds what is known about one image,
``planner`` is the pure evaluator (evidence + rule + now → verdict, and the actions a
verdict needs), ``blocking`` says what each mode locks and releases, ``effects`` turns
those actions into registry calls through the executor, ``records`` keeps each image's
state between invocations, ``verdicts`` shapes the CloudEvents a verdict publishes, and
``service`` handles pushes and sweeps through the Protocols in ``protocols``.
"""
