"""``hashlib.blake2b`` and ``hashlib.sha256`` without importing hashlib.

hashlib loads OpenSSL's libcrypto on import (3-11 ms of a command's start), although the
built-in ``_blake2`` and ``_sha256`` modules hash the same: they are all pybpf hashes with
on the paths every command takes (BTF and disk-cache keys, the vm's hash maps and Bloom
filters).
"""

try:
    from _blake2 import blake2b
except ImportError:     # an interpreter without the built-in module
    from hashlib import blake2b
try:
    from _sha256 import sha256
except ImportError:     # Python 3.12+ names it _sha2
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["blake2b", "sha256"]
