"""``hashlib.blake2b`` without importing hashlib.

hashlib loads OpenSSL's libcrypto on import (3-11 ms of a command's start), although its
``blake2b`` is the built-in ``_blake2`` module's, which is all pybpf hashes with on the
paths every command takes (BTF cache keys, the vm's hash maps and Bloom filters).
"""

try:
    from _blake2 import blake2b
except ImportError:     # an interpreter without the built-in module
    from hashlib import blake2b

__all__ = ["blake2b"]
