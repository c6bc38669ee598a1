"""``pybpf export CONFIG``: serve BPF maps as Prometheus metrics over HTTP (see
:mod:`pybpf.exporter` for the configuration file)."""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` to the command line."""
    parser = subparsers.add_parser("export", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="the TOML configuration")
    parser.add_argument("--port", type=int, help="listen on this port (overrides the file's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from pybpf.exporter import serve

    serve(args.config, port=args.port)
    return 0
