"""`qa prune`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from index.settings import Settings
from qa.commands.delete import CONFIRM_OVER, add_safety_options


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "prune",
        help="remove articles whose file no longer exists",
        description="Remove the articles read from files that no longer exist (every article "
        "of a JSON Lines file that is gone), in one atomic write like `qa delete`. Web pages "
        "and feed entries are never pruned. A file that cannot be checked (a folder without "
        "permission, an unmounted drive) is named and its articles kept; a whole archive "
        "missing because its drive is not mounted looks like deleted files, so look at the "
        f"list (--dry-run) first. More than {CONFIRM_OVER} articles ask for a confirmation "
        "at a terminal; --yes skips it, and without a terminal it is required.",
    )
    add_safety_options(p, "prune")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.manage import file_gone, plan_prune
    from qa.commands.delete import carry_out

    plan = plan_prune(settings.index_dir)
    if not args.json:
        for path in plan.unchecked:
            print(f"note: could not check {path}; its articles are kept", file=sys.stderr)
    return carry_out(
        plan,
        args,
        settings,
        verb="prune",
        # A file that came back between the plan and the write keeps its articles.
        still=lambda row: bool(row.path and file_gone(row.path)),
        extra={"unchecked": list(plan.unchecked)},
    )
