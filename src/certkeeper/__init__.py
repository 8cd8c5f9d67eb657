"""certkeeper: watch, renew and reload Let's Encrypt certificates for nginx on one host."""

__version__ = "0.2.0"
