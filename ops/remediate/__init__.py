"""Alert-driven remediation of SNAT exhaustion and of a cluster autoscaler stuck at its maxCount."""
