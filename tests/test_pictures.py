"""The committed screenshots are what the app draws now (``make pictures`` renders them again).

Each picture in ``docs/pictures`` is drawn afresh from the same fixed inputs (synthetic digits,
the idle session, fixed panel values: ``harness/pictures.py``) and compared with the file: a new
key, field or panel that changes the screen fails here until the pictures are rendered again.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness.pictures import PICTURES, Picture, picture_paths, pictures_data, render


@pytest.fixture(scope="module")
def data() -> Any:
    return pictures_data()


@pytest.mark.parametrize("picture", PICTURES, ids=[p.name for p in PICTURES])
async def test_the_committed_picture_is_what_the_app_draws_now(picture: Picture, data: Any) -> None:
    drawn = await render(picture, data)
    for kind, path in picture_paths(picture).items():
        assert path.exists(), f"{path} is missing: run `make pictures`"
        committed = path.read_text()
        if committed != drawn[kind]:
            old, new = committed.splitlines(), drawn[kind].splitlines()
            changed = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b), min(len(old), len(new)) + 1
            )
            pytest.fail(
                f"{path.name} differs from what the app draws now (first at line {changed}): "
                "run `make pictures` and look at the result before committing it"
            )


def test_every_picture_the_docs_show_is_rendered() -> None:
    """docs/pictures holds only what the script draws: a file it no longer draws would go stale unseen."""
    from harness.pictures import PICTURES_DIR

    rendered = {path.name for picture in PICTURES for path in picture_paths(picture).values()}
    assert {path.name for path in PICTURES_DIR.iterdir()} == rendered
