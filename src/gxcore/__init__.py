"""gxcore: the data layer and services of the GX Coin Protocol."""

__version__ = "0.1.0"
