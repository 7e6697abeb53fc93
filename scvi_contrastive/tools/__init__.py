"""Numerical tools on arrays (no torch): clustering, anchors, joint PCA, transport, sketches."""
