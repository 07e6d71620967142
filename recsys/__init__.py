"""recsys: recommendation and interest-circle ranking for social e-commerce.

The library is pure and importable: no CLI or HTTP code, no I/O at import time.
"""

__version__ = "0.1.0"
