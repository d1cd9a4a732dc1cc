"""acr-aks-ops: operations automation for ACR and AKS, as one Azure Functions app.

The package is layered: triggers call services, services call pure planners and the
executor, and only ``ops.adapters`` talks to Azure. Importing ``ops`` is cheap on
purpose: the Functions host imports it at cold start.
"""

__version__ = "0.1.0"
