"""The ``govlib`` command. Thin: each command group is one module of ``govlib.cli``, holding no logic.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``govlib --help`` is fast.
Errors derived from :class:`govlib.errors.GovlibError` print as one clear message
and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from govlib import __version__
from govlib.errors import GovlibError

# command words -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo-data": ("govlib.cli.demo", "generate the seeded synthetic demo marketplace"),
    "validate": ("govlib.cli.validate", "check a dataset against the data contract"),
    "summary": ("govlib.cli.summary", "print a per-market summary table of a month"),
    "run": ("govlib.cli.run", "run the month's reports for every market"),
    "investigate": ("govlib.cli.investigate", "run an investigation into reports/investigations/"),
    "simulate": ("govlib.cli.simulate", "replay a market's last 13 months under a proposed rule set"),
    "queue export": ("govlib.cli.feedback", "write a review queue for reviewers"),
    "labels import": ("govlib.cli.feedback", "import a filled review queue into review_labels"),
    "qa plan": ("govlib.cli.qa", "plan an audit sample per stratum and export it as a review queue"),
    "i18n check": ("govlib.cli.i18n", "check translation catalogs"),
    "dsa import": ("govlib.cli.dsa", "import DSA Transparency Database dumps"),
    "dsa sync": ("govlib.cli.dsa", "store DSA daily dumps in a statement archive"),
    "dsa report": ("govlib.cli.dsa", "write the harmonised DSA transparency report"),
    "dsa peers": ("govlib.cli.dsa", "compare with other platforms' published reports"),
}


def _split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    for words in sorted(COMMANDS, key=lambda w: -len(w.split())):
        n = len(words.split())
        if argv[:n] == words.split():
            return words, argv[n:]
    return None, argv


def _top_help() -> str:
    width = max(len(w) for w in COMMANDS)
    lines = [f"govlib {__version__}: creator and content governance analytics", "", "commands:"]
    lines += [f"  {w.ljust(width)}  {h}" for w, (_, h) in COMMANDS.items()]
    lines += ["", "Run 'govlib COMMAND --help' for a command's options; add --debug for tracebacks."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    words, rest = _split_command(argv)
    if words is None:
        if argv and argv[0] in ("--version", "-V"):
            print(__version__)
            return 0
        print(_top_help(), file=sys.stdout if not argv or argv[0] in ("-h", "--help") else sys.stderr)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module_name, help_text = COMMANDS[words]
    try:
        module = importlib.import_module(module_name)
    except GovlibError as exc:  # e.g. an invalid GOVLIB_* variable (govlib.config reads them on import)
        if debug:
            raise
        print(f"govlib {words}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    parser = argparse.ArgumentParser(prog=f"govlib {words}", description=help_text)
    add = (
        getattr(module, "add_arguments_" + words.split()[-1].replace("-", "_"), None) or module.add_arguments
    )
    run = getattr(module, "run_" + words.split()[-1].replace("-", "_"), None) or module.run
    add(parser)
    args = parser.parse_args(rest)
    args.debug = debug
    try:
        return int(run(args) or 0)
    except GovlibError as exc:
        if debug:
            raise
        print(f"govlib {words}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"govlib {words}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
