"""The Azure Functions entry point: create the app and register the blueprints. Nothing else."""

import azure.functions as func

from ops.triggers import BLUEPRINTS

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
