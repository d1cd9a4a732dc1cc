"""The sandbox's Azure Resource Manager endpoint (``OPS_ARM_ENDPOINT``).

Management-plane emulation for what the product drives through ARM: container
registries and their geo-replications, AKS managed clusters and agent pools, their
long-running operations, plus the ``/_sandbox`` control endpoints. ``app`` builds the
ASGI app the server mounts on the ARM port.
"""
