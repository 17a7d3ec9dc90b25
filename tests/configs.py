"""mlops.toml for tests on the shipped bikeshare data: the `bikes` dataset and, if asked, the
`riders` model trained on all of it (regression on `bikers`)."""

from __future__ import annotations


def bikes_config(*, ingest: str = "", serving: str = "", rounds: int | None = None) -> str:
    """`ingest` and `serving`: extra lines for those sections; `rounds`: add `riders`."""
    text = f'[ingest]\nsettle_s = 0.2\n{ingest}\n'
    if serving:
        text += f"[serving]\n{serving}\n\n"
    text += '[[dataset]]\nname = "bikes"\ntarget = "bikers"\n'
    if rounds is not None:
        text += ('\n[[model]]\nname = "riders"\ndata = "bikes@all"\ntarget = "bikers"\n'
                 'task = "regression"\nexclude = ["casual", "registered"]\n'
                 f"rounds = {rounds}\n")
    return text
