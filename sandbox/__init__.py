"""The sandbox: a local, stateful emulation of the Azure estate.

Real, unmodified Azure SDKs talk to it over HTTPS, with tokens from its
managed-identity endpoint, so that everything the product does can be run, demoed
and tested offline. It is never deployed.
"""
