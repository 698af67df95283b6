"""``envkit badge --repo OWNER/NAME --ref REF --path NB``: a mybinder.org launch badge and URL."""

from __future__ import annotations

import argparse

from ..ui import UI

HELP = "print a 'launch Binder' badge (Markdown) and URL for a notebook in a public GitHub repository"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the GitHub repository")
    p.add_argument("--ref", default="HEAD", help="branch, tag or commit (default: HEAD)")
    p.add_argument("--path", metavar="NB", help="the notebook's path inside the repository")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..binder import badge_markdown, binder_url

    url = binder_url(args.repo, args.ref, args.path)
    ui.text_block(badge_markdown(url))
    ui.text_block(url)
    return 0
