"""PyTorch modules of the zoo families, written in the original code's module layout.

Importing this package imports torch; :mod:`zoo` itself never does so at import time.
"""
